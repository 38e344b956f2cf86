import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { OAuthTokenProvider } from '../../src/auth/oauth-token-provider.js';
import { systemClock } from '../../src/clock.js';
import { FileSecretStore } from '../../src/secrets/file-secret-store.js';
import { startEntraFixture } from '../helpers/entra-fixture.js';
import { freePort } from '../helpers/free-port.js';
import { startOAuthServer, type OAuthServer } from '../helpers/oauth-server.js';
import { clockAhead, runMain } from '../helpers/run-main.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { doctor, doctorReport, findingsOf, newKb, ok } from './doctor-helpers.js';

const clientSecret = 'Doc8Q~oauth.secret-0123456789abcdefABCD';
const hour = 3600_000;
const day = 24 * hour;

describe('doctor: OAuth tokens from a local identity provider (oidc-provider over HTTPS)', () => {
  const tempDir = useTempDirs();
  let oauth: OAuthServer;
  let sink: SmtpSink;
  beforeAll(async () => {
    oauth = await startOAuthServer({ cert: inject('oauthCert'), port: await freePort(), confidentialClientId: 'mailctl-app', clientSecret, publicClientId: 'mailctl-public', appMailbox: 'records@acme.test' });
    sink = await startSmtpSink({ oauth: async (user, token) => user === 'records@acme.test' && (await oauth.introspect(token)).active === true });
  });
  afterAll(async () => {
    await sink?.close();
    await oauth?.close();
  });
  const envFor = () => ({ MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file', NODE_EXTRA_CA_CERTS: inject('oauthCert').certPath });
  const oauthServer = (port: number, ...extra: string[]) => ['configure', 'server', '--host', '127.0.0.1', '--port', String(port), '--security', 'none', '--auth', 'oauth2',
    '--oauth-provider', 'microsoft', '--authority', oauth.issuer, '--username', 'records@acme.test', '--from', 'records@acme.test', ...extra];

  it('client credentials: clean with a fresh token; when the token has expired and the provider no longer takes the secret → error, fix: rotate-secret', async () => {
    const env = envFor();
    await newKb(env);
    await ok(env, [...oauthServer(sink.port), '--client-id', 'mailctl-app', '--secret-stdin'], clientSecret);
    const clean = await doctor(env, '--only', 'oauth');
    expect(clean.findings).toEqual([]);
    expect(clean.passed.find((p) => p.check === 'oauth.tokens')!.summary).toMatch(/^outbound \(client credentials\): access token valid until .*, last refresh .* ok$/);

    oauth.setClientSecret('New8Q~rotated-at-the-provider-0123456789');
    // Two hours on, the cached token has expired: renewing it needs the secret, which is now wrong.
    const later = { env, clock: clockAhead(2 * hour) };
    const report = doctorReport(await runMain(['doctor', '--json'], later));
    expect(findingsOf(report, 'oauth.tokens')).toEqual([expect.objectContaining({
      severity: 'error', symptom: 'oauth', title: expect.stringMatching(/^Getting a token for the outbound server failed at /), command: 'mailctl rotate-secret',
    })]);
    expect(findingsOf(report, 'oauth.tokens')[0]!.seen).toContain('invalid_client');
    expect(findingsOf(report, 'outbound.login')).toEqual([expect.objectContaining({ severity: 'error', title: 'No OAuth token for the outbound server 127.0.0.1:' + sink.port, command: 'mailctl rotate-secret' })]);
    oauth.setClientSecret(clientSecret);
  });

  it('the token endpoint is down when the token needs renewing → error saying the identity provider cannot be reached', async () => {
    const port = await freePort();
    const idp = await startOAuthServer({ cert: inject('oauthCert'), port, confidentialClientId: 'mailctl-app', clientSecret, publicClientId: 'mailctl-public', appMailbox: 'records@acme.test' });
    const env = envFor();
    await newKb(env);
    await ok(env, ['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'oauth2', '--oauth-provider', 'microsoft', '--authority', idp.issuer,
      '--username', 'records@acme.test', '--from', 'records@acme.test', '--client-id', 'mailctl-app', '--secret-stdin', '--no-verify'], clientSecret);
    expect((await doctor(env, '--only', 'oauth')).findings).toEqual([]); // a first token is got
    await idp.close();
    const report = doctorReport(await runMain(['doctor', '--json', '--only', 'oauth'], { env, clock: clockAhead(2 * hour) }));
    const [finding] = findingsOf(report, 'oauth.tokens');
    expect(finding).toMatchObject({ severity: 'error', title: expect.stringMatching(/^Getting a token for the outbound server failed at /) });
    expect(finding!.cause).toMatch(/identity provider could not be reached|could not be reached/i);
  });

  it('client credentials saved without verification and never used → warning, fix: reset-oauth (which gets a token and verifies)', async () => {
    const env = envFor();
    await newKb(env);
    await ok(env, [...oauthServer(sink.port), '--client-id', 'mailctl-app', '--secret-stdin', '--no-verify'], clientSecret);
    const report = await doctor(env, '--only', 'oauth', '--no-network');
    expect(report.ok).toBe(true);
    expect(findingsOf(report, 'oauth.tokens')).toEqual([expect.objectContaining({ severity: 'warning', title: 'The outbound server has never got a token', command: 'mailctl reset-oauth outbound' })]);
    expect((await doctor(env, '--only', 'oauth')).findings).toEqual([]); // with the network, oauth.renew gets one
  });

  it('delegated sign-in: none yet → error, fix: reset-oauth; a refresh token unused for 61 days → warning, for 91 days → error', async () => {
    const env = envFor();
    await newKb(env);
    await ok(env, [...oauthServer(sink.port), '--client-id', 'mailctl-public', '--oauth-flow', 'device_code', '--no-verify']);
    let report = await doctor(env, '--only', 'oauth', '--no-network');
    expect(findingsOf(report, 'oauth.tokens')).toEqual([expect.objectContaining({ severity: 'error', title: 'The outbound server has no OAuth sign-in', command: 'mailctl reset-oauth outbound' })]);

    // A person signs in (device code, approved at the identity provider).
    const store = new FileSecretStore({ path: join(env.MAILCTL_HOME, 'secrets.enc'), keyPath: join(env.MAILCTL_HOME, 'master.key') });
    const provider = new OAuthTokenProvider('outbound', { provider: 'microsoft', username: 'records@acme.test', clientId: 'mailctl-public', flow: 'device_code', authorityUrl: oauth.issuer }, 'smtp', { secrets: store, clock: systemClock });
    await provider.signIn({ showDeviceCode: ({ userCode }) => void setTimeout(() => void oauth.approveDeviceCode(userCode, 'records@acme.test'), 50), openBrowser: () => undefined });
    report = await doctor(env, '--only', 'oauth', '--no-network');
    expect(report.findings).toEqual([]);
    expect(report.passed.find((p) => p.check === 'oauth.tokens')!.summary).toMatch(/^outbound \(delegated sign-in\): access token valid until .*, refresh token 0 day\(s\) old$/);

    report = doctorReport(await runMain(['doctor', '--json', '--only', 'oauth', '--no-network'], { env, clock: clockAhead(61 * day) }));
    expect(findingsOf(report, 'oauth.tokens')).toEqual([expect.objectContaining({ severity: 'warning', title: 'The refresh token of the outbound server is 61 days old', command: 'mailctl reset-oauth outbound' })]);
    report = doctorReport(await runMain(['doctor', '--json', '--only', 'oauth', '--no-network'], { env, clock: clockAhead(91 * day) }));
    expect(findingsOf(report, 'oauth.tokens')).toEqual([expect.objectContaining({ severity: 'error', title: 'The refresh token of the outbound server is 91 days old' })]);
    expect(report.ok).toBe(false);
  });

  it('Microsoft reports the client secret expired (AADSTS7000222, Entra\'s exact body) → error, fix: rotate-secret', async () => {
    const entra = await startEntraFixture(inject('oauthCert'));
    try {
      const env = envFor();
      await newKb(env);
      await ok(env, ['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'oauth2', '--oauth-provider', 'microsoft', '--authority', entra.authority,
        '--username', 'records@acme.test', '--from', 'records@acme.test', '--client-id', 'aadsts7000222', '--secret-stdin', '--no-verify'], clientSecret);
      const report = await doctor(env, '--only', 'oauth');
      const [finding] = findingsOf(report, 'oauth.tokens');
      expect(finding).toMatchObject({ severity: 'error', command: 'mailctl rotate-secret' });
      expect(finding!.seen).toContain('AADSTS7000222');
      expect(finding!.cause).toMatch(/expired/i);
    } finally {
      await entra.close();
    }
  });
});
