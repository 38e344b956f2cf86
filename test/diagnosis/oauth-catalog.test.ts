import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { microsoftClientCredentials } from '../../src/auth/microsoft-flows.js';
import { OAuthFailure } from '../../src/auth/oauth-failure.js';
import { catalog, diagnose } from '../../src/diagnosis/diagnose.js';
import { factsFromText } from '../../src/commands/explain/run-explain.js';
import { entraErrors, startEntraFixture } from '../helpers/entra-fixture.js';

/** Which catalog entry each fixture error must reach. */
const expected: Record<string, string> = {
  aadsts65001: 'aadsts65001-no-consent',
  aadsts7000215: 'aadsts7000215-wrong-secret',
  aadsts7000222: 'aadsts7000222-expired-secret',
  aadsts700016: 'aadsts700016-app-not-found',
  aadsts50173: 'token-expired-or-revoked',
  aadsts700082: 'token-expired-or-revoked',
  aadsts70008: 'token-expired-or-revoked',
  aadsts90002: 'aadsts90002-tenant-not-found',
  aadsts7000218: 'aadsts7000218-public-client',
  aadsts53003: 'aadsts53003-conditional-access',
  aadsts70011: 'invalid-scope',
  aadsts50126: 'aadsts50126-bad-credentials',
  'invalid-request': 'invalid-request',
  'google-revoked': 'token-expired-or-revoked',
};

describe('OAuth diagnosis: Microsoft\'s exact error bodies through msal-node', () => {
  let fixture: { authority: string; close(): Promise<void> };
  beforeAll(async () => {
    fixture = await startEntraFixture(inject('oauthCert'));
  });
  afterAll(() => fixture?.close());

  for (const clientId of Object.keys(entraErrors)) {
    it(`${clientId} → ${expected[clientId]}`, async () => {
      const error = await microsoftClientCredentials({ provider: 'microsoft', username: 'x', clientId, authorityUrl: fixture.authority }, 'some-secret', ['https://outlook.office365.com/.default']).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OAuthFailure);
      const failure = error as OAuthFailure;
      expect(failure.error).toBe(entraErrors[clientId]!.error);
      expect(diagnose({ area: 'oauth', text: failure.message, kind: failure.error }).id).toBe(expected[clientId]);
      // The same words pasted into `mailctl explain` reach the same entry.
      expect(diagnose(factsFromText(failure.message)).id).toBe(expected[clientId]);
    });
  }

  it('texts that come from elsewhere than the token endpoint', () => {
    const cases: Array<[string, string]> = [
      ["AADSTS50011: The redirect URI 'http://localhost:53123/' specified in the request does not match the redirect URIs configured for the application '11111111-2222-3333-4444-555555555555'.", 'aadsts50011-redirect-uri'],
      ['invalid_client: client authentication failed', 'invalid-client'],
      ['signin_required: the outbound server has no OAuth sign-in yet', 'oauth-signin-needed'],
      ['network_error: fetch failed (connect ECONNREFUSED 127.0.0.1:443) [ECONNREFUSED]', 'idp-unreachable'],
    ];
    for (const [text, id] of cases) expect(diagnose({ area: 'oauth', text, kind: text.split(':')[0] }).id, text).toBe(id);
    expect(diagnose({ area: 'imap', phase: 'auth', authMethod: 'oauth2', text: 'NO [AUTHENTICATIONFAILED] Authentication failed.' }).id).toBe('mailbox-refused-token');
  });

  it('the catalog has no entry without a test', async () => {
    const tested = new Set<string>(Object.values(expected));
    for (const id of ['aadsts50011-redirect-uri', 'invalid-client', 'oauth-signin-needed', 'idp-unreachable', 'mailbox-refused-token']) tested.add(id);
    const files = await Promise.all(['smtp-catalog', 'inbound-catalog'].map((f) => import('node:fs').then((fs) => fs.readFileSync(new URL(`./${f}.test.ts`, import.meta.url), 'utf8'))));
    for (const text of files) for (const m of text.matchAll(/\['([a-z0-9.-]+)',/g)) tested.add(m[1]!);
    const untested = catalog.map((e) => e.id).filter((id) => !tested.has(id));
    expect(untested).toEqual([]);
  });
});
