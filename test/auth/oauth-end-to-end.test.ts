import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { freePort } from '../helpers/free-port.js';
import { startOAuthServer, type OAuthServer } from '../helpers/oauth-server.js';
import { runCli } from '../helpers/run-cli.js';
import { startSmtpSink } from '../helpers/smtp-sink.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { simpleMessage } from '../helpers/messages.js';
import { startGraphFixture } from '../helpers/graph-fixture.js';

const clientSecret = 'Old8Q~secret.value-0123456789abcdefABCDEF';

describe('OAuth 2.0 end to end: a local identity provider, Dovecot checking tokens by introspection, and SMTP XOAUTH2', () => {
  const tempDir = useTempDirs();
  let oauth: OAuthServer;
  let dovecot: Dovecot;
  beforeAll(async () => {
    const cert = inject('oauthCert');
    oauth = await startOAuthServer({ cert, port: await freePort(), confidentialClientId: 'mailctl-app', clientSecret, publicClientId: 'mailctl-public', appMailbox: 'contracts@acme.test' });
    dovecot = await startDovecot({ users: [{ name: 'contracts@acme.test', password: 'unused-password' }], oauth2: { introspectionUrl: oauth.introspectionUrl, caFile: cert.certPath } });
    dovecot.deliver('contracts@acme.test', simpleMessage({ subject: 'waiting' }));
  });
  afterAll(async () => {
    await dovecot?.stop();
    await oauth?.close();
  });

  const envFor = () => ({ MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file', NODE_EXTRA_CA_CERTS: inject('oauthCert').certPath });

  it('IMAP XOAUTH2 with a client-credentials token; a revoked token is diagnosed; reset-oauth recovers', async () => {
    const env = envFor();
    await runCli(['init', '--name', 'acme-test', '--url', 'https://records.acme.test', '--environment', 'test'], { env });
    await runCli(['tables', 'add', 'contracts'], { env });
    const configured = await runCli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none',
      '--auth', 'oauth2', '--oauth-provider', 'microsoft', '--authority', oauth.issuer, '--client-id', 'mailctl-app', '--username', 'contracts@acme.test', '--secret-stdin',
      '--folder', 'INBOX', '--unknown-sender', 'ignore', '--notes', 'new-text', '--after', 'mark-read', '--create-records'], { env, input: clientSecret });
    expect(configured.code, configured.stdout + configured.stderr + dovecot.log()).toBe(0);
    expect(configured.stdout).toContain('Got an OAuth token from the identity provider (client credentials');
    expect(configured.stdout).toContain('The account is valid: folder INBOX, 1 message(s)');
    expect(oauth.grants.client_credentials).toBeGreaterThanOrEqual(1);
    const files = readFileSync(join(env.MAILCTL_HOME, 'config.json'), 'utf8');
    expect(files).not.toContain(clientSecret);

    const ok = await runCli(['test-inbound', 'contracts'], { env });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const grantsBefore = oauth.grants.client_credentials ?? 0;
    expect((await runCli(['test-inbound', 'contracts'], { env })).code).toBe(0);
    expect(oauth.grants.client_credentials).toBe(grantsBefore); // the cached token is reused

    await oauth.revokeAll();
    const revoked = await runCli(['test-inbound', 'contracts', '--json'], { env });
    expect(revoked.code).toBe(1);
    const report = JSON.parse(revoked.stdout).accounts[0].account.report;
    expect(report).toMatchObject({ phase: 'auth', diagnosis: { id: 'mailbox-refused-token', command: expect.stringContaining('mailctl reset-oauth') } });

    const reset = await runCli(['reset-oauth', 'inbound', 'contracts'], { env });
    expect(reset.code, reset.stdout + reset.stderr).toBe(0);
    expect(reset.stdout).toContain('Dropped the stored tokens.');
    expect(reset.stdout).toContain('The connection is successful: a new token was issued');
    expect(reset.stdout).toContain('The account is valid: folder INBOX');
    expect((await runCli(['test-inbound', 'contracts'], { env })).code).toBe(0);
  });

  it('SMTP XOAUTH2: configure server gets a token and logs in; test-send sends; a wrong secret is diagnosed', async () => {
    const sink = await startSmtpSink({ oauth: async (user, token) => user === 'records@acme.test' && (await oauth.introspect(token)).active === true });
    const env = envFor();
    try {
      await runCli(['init', '--name', 'acme-test', '--url', 'https://records.acme.test', '--environment', 'test'], { env });
      const args = ['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'oauth2', '--oauth-provider', 'microsoft',
        '--authority', oauth.issuer, '--client-id', 'mailctl-app', '--username', 'records@acme.test', '--from', 'records@acme.test', '--secret-stdin'];
      const wrong = await runCli(args, { env, input: 'not-the-secret' });
      expect(wrong.code).toBe(13);
      expect(wrong.stderr).toContain('Getting an OAuth token failed: invalid_client');
      expect(wrong.stdout).toContain('mailctl rotate-secret');
      const configured = await runCli(args, { env, input: clientSecret });
      expect(configured.code, configured.stdout + configured.stderr).toBe(0);
      expect(configured.stdout).toMatch(/logged in as records@acme\.test with an OAuth token \(XOAUTH2\)/);
      const sent = await runCli(['test-send', '--to', 'pat@acme.test', '--transcript'], { env });
      expect(sent.code, sent.stdout + sent.stderr).toBe(0);
      expect(sent.stdout).toMatch(/^C: AUTH XOAUTH2 «hidden»$/m);
      expect(sink.messages).toHaveLength(1);
    } finally {
      await sink.close();
    }
  });
});

describe('OAuth for POP3 (XOAUTH2) and Microsoft Graph (bearer)', () => {
  const tempDir = useTempDirs();
  let oauth: OAuthServer;
  let dovecot: Dovecot;
  beforeAll(async () => {
    const cert = inject('oauthCert');
    oauth = await startOAuthServer({ cert, port: await freePort(), confidentialClientId: 'mailctl-app', clientSecret, publicClientId: 'mailctl-public', appMailbox: 'support@acme.test' });
    dovecot = await startDovecot({ users: [{ name: 'support@acme.test', password: 'unused' }], oauth2: { introspectionUrl: oauth.introspectionUrl, caFile: cert.certPath } });
    dovecot.deliver('support@acme.test', simpleMessage({ subject: 'pop me' }));
  });
  afterAll(async () => {
    await dovecot?.stop();
    await oauth?.close();
  });

  it('a POP3 account logs in with XOAUTH2 and a Graph account with a bearer token for the Graph scope', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file', NODE_EXTRA_CA_CERTS: inject('oauthCert').certPath };
    await runCli(['init', '--name', 'acme-test', '--url', 'https://records.acme.test', '--environment', 'test'], { env });
    await runCli(['tables', 'add', 'support_cases'], { env });
    await runCli(['tables', 'add', 'contracts'], { env });
    const common = ['--auth', 'oauth2', '--oauth-provider', 'microsoft', '--authority', oauth.issuer, '--client-id', 'mailctl-app', '--secret-stdin', '--unknown-sender', 'ignore', '--notes', 'new-text', '--create-records'];
    const pop3 = await runCli(['configure', 'inbound', 'support_cases', '--protocol', 'pop3', '--host', '127.0.0.1', '--port', String(dovecot.pop3Port), '--security', 'none', '--username', 'support@acme.test', '--after', 'keep', ...common], { env, input: clientSecret });
    expect(pop3.code, pop3.stdout + pop3.stderr).toBe(0);
    expect(pop3.stdout).toContain('The account is valid: folder INBOX, 1 message(s)');

    const graphTokens: string[] = [];
    const graph = await startGraphFixture({
      token: 'unused',
      mailbox: 'contracts@acme.test',
      validate: async (token) => {
        graphTokens.push(token);
        const info = await oauth.introspect(token);
        return info.active === true && info.aud === 'https://graph.microsoft.com';
      },
    });
    try {
      // A move folder Graph does not know (a display name, not an id or well-known name) is caught here, not at every poll.
      const noFolder = await runCli(['configure', 'inbound', 'contracts', '--protocol', 'graph', '--graph-url', graph.baseUrl, '--username', 'contracts@acme.test', '--mailbox', 'contracts@acme.test', '--folder', 'inbox', '--after', 'move', '--move-to', 'Processed', ...common], { env, input: clientSecret });
      expect(noFolder.code, noFolder.stdout + noFolder.stderr).toBe(1);
      expect(noFolder.stderr).toContain('There is no folder "Processed" in this mailbox: processed messages could not be moved there.');
      expect(noFolder.stderr).toContain('well-known folder name (archive, deleteditems)');
      const configured = await runCli(['configure', 'inbound', 'contracts', '--protocol', 'graph', '--graph-url', graph.baseUrl, '--username', 'contracts@acme.test', '--mailbox', 'contracts@acme.test', '--folder', 'inbox', '--after', 'mark-read', ...common], { env, input: clientSecret });
      expect(configured.code, configured.stdout + configured.stderr).toBe(0);
      expect(configured.stdout).toContain('The account is valid: folder Inbox, 0 message(s)');
      const tested = await runCli(['test-inbound', '--json'], { env });
      expect(tested.code, tested.stdout).toBe(0);
      expect(JSON.parse(tested.stdout).accounts.map((a: { table: string; ok: boolean }) => [a.table, a.ok])).toEqual([['support_cases', true], ['contracts', true]]);
      expect(graphTokens.length).toBeGreaterThan(0);
    } finally {
      await graph.close();
    }
  });
});
