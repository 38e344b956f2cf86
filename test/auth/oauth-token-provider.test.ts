import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { OAuthTokenProvider } from '../../src/auth/oauth-token-provider.js';
import type { OAuthSettings } from '../../src/auth/oauth-settings.js';
import { readTokens } from '../../src/auth/token-cache.js';
import { OAuthFailure } from '../../src/auth/oauth-failure.js';
import { FileSecretStore } from '../../src/secrets/file-secret-store.js';
import { freePort } from '../helpers/free-port.js';
import { startOAuthServer, type OAuthServer } from '../helpers/oauth-server.js';
import { useTempDirs } from '../helpers/temp-dir.js';

/** A clock the test moves by hand. */
function testClock() {
  let now = Date.now();
  return { now: () => new Date(now), advance: (ms: number) => { now += ms; } };
}

describe('OAuth token providers against a local oidc-provider over HTTPS', () => {
  const tempDir = useTempDirs();
  let oauth: OAuthServer;
  beforeAll(async () => {
    oauth = await startOAuthServer({ cert: inject('oauthCert'), port: await freePort(), confidentialClientId: 'mailctl-app', clientSecret: 'app-secret-1', publicClientId: 'mailctl-public', appMailbox: 'contracts@acme.test' });
  });
  afterAll(() => oauth?.close());

  const newStore = () => {
    const dir = tempDir();
    return new FileSecretStore({ path: join(dir, 's.enc'), keyPath: join(dir, 'k') });
  };
  const approve = (prompt: { codes: string[] }) => ({
    showDeviceCode: ({ userCode }: { userCode: string }) => {
      prompt.codes.push(userCode);
      setTimeout(() => void oauth.approveDeviceCode(userCode, 'alice@acme.test'), 50);
    },
    openBrowser: () => undefined,
  });

  it('Microsoft client credentials (msal-node, OIDC authority): cached, then refreshed before expiry', async () => {
    const store = newStore();
    await store.set('cs', 'app-secret-1');
    const clock = testClock();
    const settings: OAuthSettings = { provider: 'microsoft', username: 'contracts@acme.test', clientId: 'mailctl-app', clientSecret: '${secret:cs}', authorityUrl: oauth.issuer };
    const provider = new OAuthTokenProvider('outbound', settings, 'smtp', { secrets: store, clock });
    const first = await provider.getToken();
    expect(await provider.getToken()).toBe(first); // cached
    const cached = await readTokens(store, 'outbound');
    expect(cached).toMatchObject({ accessToken: first, scopes: ['https://outlook.office365.com/.default'], lastRefresh: { ok: true } });
    clock.advance(56 * 60_000); // less than 5 minutes left of the hour
    const second = await provider.getToken();
    expect(second).not.toBe(first);
  });

  it('Graph purpose asks for the Graph scope', async () => {
    const store = newStore();
    await store.set('cs', 'app-secret-1');
    const provider = new OAuthTokenProvider('inbound/support', { provider: 'microsoft', username: 'x', clientId: 'mailctl-app', clientSecret: '${secret:cs}', authorityUrl: oauth.issuer }, 'graph', { secrets: store, clock: testClock() });
    await provider.getToken();
    expect((await readTokens(store, 'inbound/support')).scopes).toEqual(['https://graph.microsoft.com/.default']);
  });

  it('a wrong client secret fails with the provider\'s words, recorded as the last refresh', async () => {
    const store = newStore();
    await store.set('cs', 'not-the-secret');
    const provider = new OAuthTokenProvider('outbound', { provider: 'microsoft', username: 'x', clientId: 'mailctl-app', clientSecret: '${secret:cs}', authorityUrl: oauth.issuer }, 'smtp', { secrets: store, clock: testClock() });
    const error = await provider.getToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthFailure);
    expect(error).toMatchObject({ error: 'invalid_client' });
    expect((await readTokens(store, 'outbound')).lastRefresh).toMatchObject({ ok: false, error: expect.stringContaining('invalid_client') });
  });

  it('Microsoft device code (public client): a person signs in once; later tokens come from the refresh token', async () => {
    const store = newStore();
    const clock = testClock();
    const provider = new OAuthTokenProvider('outbound', { provider: 'microsoft', username: 'alice@acme.test', clientId: 'mailctl-public', flow: 'device_code', authorityUrl: oauth.issuer }, 'imap', { secrets: store, clock });
    await expect(provider.getToken()).rejects.toMatchObject({ error: 'signin_required' });
    const prompt = { codes: [] as string[] };
    const signedIn = await provider.signIn(approve(prompt));
    expect(prompt.codes).toHaveLength(1);
    expect(signedIn.account).toBe('alice@acme.test');
    const before = await readTokens(store, 'outbound');
    expect(before.msalCache).toContain('RefreshToken');
    const refreshesBefore = oauth.grants.refresh_token ?? 0;
    clock.advance(58 * 60_000);
    const token = await provider.getToken();
    expect(token).not.toBe(signedIn.accessToken);
    expect(oauth.grants.refresh_token).toBe(refreshesBefore + 1);
    // The provider rotates refresh tokens: the saved cache holds the new one.
    const after = await readTokens(store, 'outbound');
    expect(after.msalCache).not.toBe(before.msalCache);
  });

  it('generic provider: client credentials by token URL, and device code + rotated refresh token (openid-client)', async () => {
    const store = newStore();
    await store.set('cs', 'app-secret-1');
    const cc = new OAuthTokenProvider('outbound', { provider: 'generic', username: 'x', clientId: 'mailctl-app', clientSecret: '${secret:cs}', tokenUrl: `${oauth.issuer}/token`, scope: 'https://outlook.office365.com/.default' }, 'smtp', { secrets: store, clock: testClock() });
    expect(await cc.getToken()).toMatch(/\S{20,}/);

    const clock = testClock();
    const delegated = new OAuthTokenProvider('inbound/contracts', { provider: 'generic', username: 'alice@acme.test', clientId: 'mailctl-public', flow: 'device_code', authorityUrl: oauth.issuer, scope: 'openid offline_access https://outlook.office365.com/IMAP.AccessAsUser.All' }, 'imap', { secrets: store, clock });
    await delegated.signIn(approve({ codes: [] }));
    const first = await readTokens(store, 'inbound/contracts');
    expect(first.refreshToken).toBeTruthy();
    clock.advance(58 * 60_000);
    await delegated.getToken();
    const second = await readTokens(store, 'inbound/contracts');
    expect(second.refreshToken).toBeTruthy();
    expect(second.refreshToken).not.toBe(first.refreshToken); // rotated, and the new one saved
    expect(second.refreshTokenIssuedAt).not.toBe(first.refreshTokenIssuedAt);

    // After a revocation (the user changed the password) refresh fails with invalid_grant.
    await oauth.revokeAll();
    clock.advance(58 * 60_000);
    await expect(delegated.getToken()).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});

describe('browser sign-in with a loopback redirect (authorization code + PKCE)', () => {
  const tempDir = useTempDirs();
  let oauth: OAuthServer;
  beforeAll(async () => {
    oauth = await startOAuthServer({ cert: inject('oauthCert'), port: await freePort(), confidentialClientId: 'mailctl-app', clientSecret: 'app-secret-1', publicClientId: 'mailctl-public', appMailbox: 'contracts@acme.test' });
  });
  afterAll(() => oauth?.close());

  const store = () => {
    const dir = tempDir();
    return new FileSecretStore({ path: join(dir, 's.enc'), keyPath: join(dir, 'k') });
  };
  const browser = (account: string, seen: string[]) => ({
    showDeviceCode: () => { throw new Error('no device code expected'); },
    openBrowser: (url: string) => {
      seen.push(url);
      setTimeout(() => void oauth.driveBrowser(url, account), 20);
    },
  });

  it('Google-style (openid-client): PKCE, the code comes back to 127.0.0.1, a refresh token is kept', async () => {
    const secrets = store();
    const provider = new OAuthTokenProvider('outbound', { provider: 'google', username: 'bob@acme.test', clientId: 'mailctl-public', authorityUrl: oauth.issuer, scope: 'openid offline_access https://outlook.office365.com/SMTP.Send' }, 'smtp', { secrets, clock: { now: () => new Date() } });
    const seen: string[] = [];
    const result = await provider.signIn(browser('bob@acme.test', seen), { browser: true });
    expect(seen[0]).toMatch(/code_challenge_method=S256/);
    expect(seen[0]).toMatch(/redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A\d+%2Fcallback/);
    expect(result.accessToken).toBeTruthy();
    expect((await readTokens(secrets, 'outbound')).refreshToken).toBeTruthy();
  });

  it('Microsoft (msal-node acquireTokenInteractive): its own loopback listener', async () => {
    const secrets = store();
    const provider = new OAuthTokenProvider('inbound/contracts', { provider: 'microsoft', username: 'carol@acme.test', clientId: 'mailctl-public', flow: 'authorization_code', authorityUrl: oauth.issuer }, 'imap', { secrets, clock: { now: () => new Date() } });
    const seen: string[] = [];
    const result = await provider.signIn(browser('carol@acme.test', seen));
    expect(seen[0]).toMatch(/redirect_uri=http%3A%2F%2Flocalhost%3A\d+/);
    expect(result.account).toBe('carol@acme.test');
    expect((await readTokens(secrets, 'inbound/contracts')).msalCache).toContain('RefreshToken');
  });
});
