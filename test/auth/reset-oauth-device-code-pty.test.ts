import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { startOAuthServer, type OAuthServer } from '../helpers/oauth-server.js';
import { PtySession } from '../helpers/pty-session.js';
import { runCli } from '../helpers/run-cli.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { useTempDirs } from '../helpers/temp-dir.js';

describe('reset-oauth for a delegated (device code) account', () => {
  const tempDir = useTempDirs();
  let oauth: OAuthServer;
  let sink: SmtpSink;
  beforeAll(async () => {
    oauth = await startOAuthServer({ cert: inject('oauthCert'), port: await freePort(), confidentialClientId: 'mailctl-app', clientSecret: 'unused', publicClientId: 'mailctl-public', appMailbox: 'records@acme.test' });
    sink = await startSmtpSink({
      oauth: async (user, token) => {
        const info = await oauth.introspect(token);
        return info.active === true && info.email === user;
      },
    });
  });
  afterAll(async () => {
    await sink?.close();
    await oauth?.close();
  });

  async function delegatedKb() {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file', NODE_EXTRA_CA_CERTS: inject('oauthCert').certPath };
    await runCli(['init', '--name', 'acme-test', '--url', 'https://records.acme.test', '--environment', 'test'], { env });
    const configured = await runCli(['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'oauth2', '--oauth-provider', 'microsoft',
      '--oauth-flow', 'device_code', '--authority', oauth.issuer, '--client-id', 'mailctl-public', '--username', 'records@acme.test', '--from', 'records@acme.test'], { env });
    expect(configured.code, configured.stdout + configured.stderr).toBe(0);
    expect(configured.stderr).toContain('signs in as a person (delegated OAuth); there is no terminal here');
    return env;
  }

  it('without a terminal: fails clearly, saying a person must sign in', async () => {
    const env = await delegatedKb();
    const result = await runCli(['reset-oauth', 'outbound'], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('uses delegated sign-in: a person must sign in, and there is no terminal here');
    const send = await runCli(['test-send', '--to', 'pat@acme.test'], { env });
    expect(send.code).toBe(13);
    expect(send.stdout).toContain('mailctl reset-oauth outbound');
  });

  it('on a terminal: shows the device code, waits for the sign-in, verifies the login, and offers a test message', async () => {
    const env = await delegatedKb();
    const s = new PtySession(['reset-oauth', 'outbound'], env);
    try {
      await s.waitFor('Dropped the stored tokens.');
      const shown = await s.waitFor(/enter the code ([A-Z]{4}-[A-Z]{4})/, 20_000);
      const userCode = /enter the code ([A-Z]{4}-[A-Z]{4})/.exec(shown)![1]!;
      expect(shown).toContain(`${oauth.issuer}/device`);
      await oauth.approveDeviceCode(userCode, 'records@acme.test');
      await s.waitFor('Signed in as records@acme.test; the OAuth registration is complete', 30_000);
      await s.waitFor(/Logged in to 127\.0\.0\.1:\d+ with the new token \(XOAUTH2\)/);
      await s.waitFor('Send a test message to confirm the reset?');
      s.type('\r'); // yes
      await s.waitFor('Send it to');
      s.type('\x15pat@acme.test\r');
      await s.waitFor('Test message accepted by');
      expect(await s.exited).toBe(0);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- screen ---\n${s.screen}`);
    } finally {
      s.kill();
    }
    expect(sink.messages.at(-1)!.to).toEqual(['pat@acme.test']);
    // The refresh token is kept: a later test-send gets a token without a person.
    const later = await runCli(['test-send', '--to', 'pat@acme.test'], { env });
    expect(later.code, later.stdout + later.stderr).toBe(0);
    expect(oauth.grants['urn:ietf:params:oauth:grant-type:device_code']).toBeGreaterThanOrEqual(1);
  }, 90_000);
});
