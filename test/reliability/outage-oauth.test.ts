import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { freePort } from '../helpers/free-port.js';
import { simpleMessage } from '../helpers/messages.js';
import { startOAuthServer, type OAuthServer, type OAuthServerOptions } from '../helpers/oauth-server.js';
import { bySize, reliabilityTier } from '../helpers/reliability-tier.js';
import { startSmtpSink, type ReceivedMessage } from '../helpers/smtp-sink.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { cliJson, startDaemon, waitUntil, type RunningDaemon } from './outage-daemon.js';

/**
 * Issue #8, point 7c: the identity provider's token endpoint goes away while
 * `mailctl daemon` (the loop) polls an OAuth IMAP account (Dovecot checking tokens by
 * introspection) and sends through an SMTP server that takes XOAUTH2. The daemon keeps
 * running and reports the token failure for both; when the endpoint is back it gets new
 * tokens and catches up: every message in once, every queued one out once.
 */
const clientSecret = 'Old8Q~secret.value-0123456789abcdefABCDEF';
const duringOutage = bySize(25, 5);

const itemOf = (m: ReceivedMessage) => /oauth-item-(\w+)-end/.exec(m.raw.toString('utf8'))?.[1] ?? '?';

describe(`the OAuth token endpoint down for a stretch (${reliabilityTier} tier: ${duringOutage} in and ${duringOutage} out during the outage)`, () => {
  const tempDir = useTempDirs();
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it('the daemon keeps running, reports the token failure inbound and outbound, and recovers with no loss and no duplicate', async () => {
    const cert = inject('oauthCert');
    // Tokens live 2 minutes, under the 5-minute refresh margin: every poll and every send needs the token endpoint.
    const options: OAuthServerOptions = { cert, port: await freePort(), confidentialClientId: 'mailctl-app', clientSecret, publicClientId: 'mailctl-public', appMailbox: 'contracts@acme.test', accessTokenTtl: 120 };
    let oauth: OAuthServer = await startOAuthServer(options);
    let oauthUp = true;
    cleanup.push(() => (oauthUp ? oauth.close() : undefined));
    const dovecot: Dovecot = await startDovecot({ users: [{ name: 'contracts@acme.test', password: 'unused-password' }], oauth2: { introspectionUrl: oauth.introspectionUrl, caFile: cert.certPath } });
    cleanup.push(() => dovecot.stop());
    const sink = await startSmtpSink({ oauth: async (user, token) => user === 'records@acme.test' && (await oauth.introspect(token)).active === true });
    cleanup.push(() => sink.close());

    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file', NODE_EXTRA_CA_CERTS: cert.certPath };
    await cliJson(env, ['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await cliJson(env, ['tables', 'add', 'contracts']);
    await cliJson(env, ['contacts', 'add', 'pat@acme.test', '--can-create', 'contracts']);
    await cliJson(env, ['config', 'set', 'inbound_check_frequency', '5s']);
    await cliJson(env, ['config', 'set', 'outbound_retry_interval', '1s']);
    const oauthFlags = ['--auth', 'oauth2', '--oauth-provider', 'microsoft', '--authority', oauth.issuer, '--client-id', 'mailctl-app', '--secret-stdin'];
    await cliJson(env, ['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none',
      ...oauthFlags, '--username', 'contracts@acme.test', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore', '--notes', 'whole-body', '--after', 'mark-read'], clientSecret);
    await cliJson(env, ['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', ...oauthFlags, '--username', 'records@acme.test', '--from', 'records@acme.test'], clientSecret);
    const record = (await cliJson(env, ['records', 'add', '--table', 'contracts', '--title', 'MSA'])).record as { id: number };

    const deliver = (item: string) => dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'pat@acme.test', subject: `In ${item}`, messageId: `oauth-${item}@acme.test`, body: `oauth-item-${item}-end` }));
    const send = async (item: string) => (await cliJson(env, ['send', '--table', 'contracts', '--record', String(record.id), '--to', 'pat@acme.test', '--subject', `Out ${item}`, '--body', `oauth-item-${item}-end`])).id as number;
    const queue = async () => (await cliJson(env, ['queue', 'list'])).entries as Array<{ id: number; status: string; attempts: number; lastError: string | null }>;
    const status = async () => (await cliJson(env, ['status'])) as { daemon: { state: string; pid: number; heartbeatAt: string }; accounts: Array<{ lastError: string | null; failures: number; lastOkAt: string | null; lastPollAt: string | null }>; queue: { counts: Record<string, number> } };
    const dbPath = join(env.MAILCTL_HOME, 'mailctl.db');
    const inboundIds = async () => {
      const db = await openDatabase(dbPath);
      try {
        return (db.prepare("SELECT message_id AS id FROM communications WHERE direction = 'inbound'").all() as Array<{ id: string }>).map((r) => r.id);
      } finally {
        db.close();
      }
    };

    const daemon: RunningDaemon = await startDaemon(env);
    cleanup.push(() => daemon.kill());
    const diag = () => `daemon log:\n${daemon.output().slice(-5000)}\ndovecot log:\n${dovecot.log().slice(-2000)}`;

    // Before: tokens come, mail flows both ways.
    deliver('before');
    const before = await send('before');
    await waitUntil(async () => (await inboundIds()).length === 1 && sink.messages.length === 1, 'the first message in and the first out', 90_000, diag);

    // The identity provider goes away.
    await oauth.close();
    oauthUp = false;
    const outageAt = new Date();
    const ids: number[] = [];
    for (let i = 0; i < duringOutage; i++) {
      deliver(`down${i}`);
      ids.push(await send(`down${i}`));
    }
    let down: Awaited<ReturnType<typeof status>> | undefined;
    await waitUntil(async () => {
      down = await status();
      const account = down.accounts[0]!;
      return account.lastError !== null && Date.parse(account.lastPollAt!) > outageAt.getTime() && (await queue()).filter((e) => ids.includes(e.id)).every((e) => e.status === 'deferred' && e.attempts >= 2);
    }, 'the token failure to be reported inbound and outbound', 120_000, diag);
    const account = down!.accounts[0]!;
    expect(down!.daemon).toMatchObject({ state: 'up', pid: daemon.pid });
    expect(daemon.running()).toBe(true);
    expect(account.failures).toBeGreaterThanOrEqual(1);
    const shown = await cliJson(env, ['queue', 'show', String(ids[0])]);
    expect(shown.entry.status).toMatch(/^(deferred|sending)$/); // "sending": caught while claimed for its next attempt
    const pollErrors = daemon.logLines().filter((l) => l.msg === 'polling contracts failed');
    const sendErrors = daemon.logLines().filter((l) => l.msg === 'outbound attempt failed');
    expect(pollErrors.length).toBeGreaterThanOrEqual(1);
    expect(sendErrors.length).toBeGreaterThanOrEqual(duringOutage);
    expect(pollErrors.every((l) => l.level === 50)).toBe(true);
    expect(pollErrors.map((l) => l.error)).toContain(account.lastError);
    console.info(`while the token endpoint was down:\n  inbound: "${account.lastError}"\n  outbound: "${shown.entry.lastError}"`);
    // The fault is named as the token's, not taken for the mail server's, and the catalog knows it.
    for (const said of [account.lastError!, shown.entry.lastError as string]) {
      expect(said).toMatch(/^Getting an OAuth token failed: /);
      expect((await cliJson(env, ['explain', said])).diagnosis).toMatchObject({ id: 'idp-unreachable' });
    }
    expect(shown.attempts.at(-1)).toMatchObject({ outcome: 'failed', response: shown.entry.lastError });
    expect(sink.messages).toHaveLength(1);
    expect(await inboundIds()).toHaveLength(1);

    // The endpoint returns (same issuer, same port): new tokens, and the daemon catches up.
    oauth = await startOAuthServer(options);
    oauthUp = true;
    await waitUntil(async () => (await inboundIds()).length === duringOutage + 1 && (await queue()).every((e) => e.status === 'sent') && (await status()).accounts[0]!.lastError === null,
      'the daemon to catch up once the token endpoint was back', 180_000, diag);
    await new Promise((r) => setTimeout(r, 6000)); // another poll and several retry intervals: nothing may come twice
    expect(oauth.grants.client_credentials ?? 0).toBeGreaterThanOrEqual(2); // new tokens, from the endpoint that came back
    const expected = ['before', ...Array.from({ length: duringOutage }, (_, i) => `down${i}`)].sort();
    expect((await inboundIds()).sort()).toEqual(expected.map((item) => `oauth-${item}@acme.test`).sort());
    expect(sink.messages.map(itemOf).sort()).toEqual(expected);
    for (const e of await queue()) expect(e).toMatchObject({ status: 'sent', lastError: null });
    expect((await cliJson(env, ['queue', 'show', String(before)])).attempts).toHaveLength(1);
    const recovered = await status();
    expect(recovered.accounts[0]).toMatchObject({ lastError: null, failures: 0 });
    expect(recovered.queue.counts).toEqual({ sent: duringOutage + 1 });
    const db = await openDatabase(dbPath);
    try {
      expect((db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n).toBe(duringOutage + 2); // MSA, and one per message from pat
      expect((db.prepare('SELECT count(*) AS n FROM record_notes').get() as { n: number }).n).toBe(duringOutage + 1);
    } finally {
      db.close();
    }
    expect(daemon.running()).toBe(true);
    const stopped = await daemon.stop();
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(10_000);
  }, bySize(600_000, 180_000));
});
