import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { OAuthTokenProvider } from '../../src/auth/oauth-token-provider.js';
import { checkDaemonHealth } from '../../src/daemon/daemon-health.js';
import { DaemonMetrics } from '../../src/daemon/daemon-metrics.js';
import { FileSecretStore } from '../../src/secrets/file-secret-store.js';
import { openDatabase } from '../../src/store/database.js';
import { QueueRepo } from '../../src/store/queue-repo.js';
import { SyncRepo } from '../../src/store/sync-repo.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { freePort } from '../helpers/free-port.js';
import { simpleMessage } from '../helpers/messages.js';
import { startOAuthServer, type OAuthServer } from '../helpers/oauth-server.js';
import { parsePrometheusText, sampleValue, type MetricFamily } from '../helpers/prometheus-text.js';
import { binPath, runCli } from '../helpers/run-cli.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { useTempDirs } from '../helpers/temp-dir.js';

/** A real daemon process; its log kept to wait on. */
function startDaemon(env: Record<string, string>, args: string[]) {
  const child = spawn(process.execPath, [binPath, 'daemon', '--tick', '0.2s', ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    log: () => log,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Retries `check` (which throws until it holds) until it passes or `ms` run out. */
async function eventually<T>(check: () => Promise<T>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function scrape(port: number): Promise<{ contentType: string | null; families: Map<string, MetricFamily> }> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(response.status).toBe(200);
  return { contentType: response.headers.get('content-type'), families: parsePrometheusText(await response.text()) };
}

async function healthz(port: number, accept?: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`, accept ? { headers: { accept } } : {});
  return { status: response.status, body: await response.text() };
}

describe('the daemon\'s metrics and health (--metrics)', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  let sink: SmtpSink;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'contracts@acme.test', password: 'c-pass' }] });
    sink = await startSmtpSink({});
  });
  afterAll(async () => {
    await sink?.close();
    await dovecot?.stop();
  });

  async function newKb(password: string): Promise<{ MAILCTL_HOME: string; MAILCTL_SECRET_BACKEND: string }> {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await runCli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production'], { env });
    await runCli(['tables', 'add', 'contracts'], { env });
    await runCli(['config', 'set', 'inbound_check_frequency', '5s'], { env });
    await runCli(['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'none', '--from', 'contracts@acme.test', '--no-verify'], { env });
    const configured = await runCli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none', '--auth', 'password',
      '--username', 'contracts@acme.test', '--secret-stdin', '--folder', 'INBOX', '--no-create-records', '--unknown-sender', 'reject', '--notes', 'new-text', '--after', 'mark-read', '--no-verify'], { env, input: password });
    expect(configured.code, configured.stderr).toBe(0);
    return env;
  }

  it('serves valid Prometheus text whose counters move when a message is taken and a notice sent; /healthz 200, 503 for mail stuck "sending"', async () => {
    const env = await newKb('c-pass');
    const port = await freePort();
    const daemon = startDaemon(env, ['--metrics', String(port)]);
    try {
      // The first poll is at once: healthy as soon as it succeeded.
      await eventually(async () => expect(await healthz(port)).toEqual({ status: 200, body: 'ok\n' }));
      expect(daemon.log()).toContain(`"metrics":"http://127.0.0.1:${port}/metrics"`);
      const before = await scrape(port);
      expect(before.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
      const types = Object.fromEntries([...before.families.values()].filter((f) => f.name.startsWith('mailctl_')).map((f) => [f.name, f.type]));
      expect(types).toEqual({
        mailctl_inbound_polls_total: 'counter', mailctl_inbound_consecutive_failures: 'gauge', mailctl_inbound_seconds_since_last_success: 'gauge',
        mailctl_inbound_messages_total: 'counter', mailctl_inbound_arrival_to_commit_seconds: 'histogram', mailctl_outbound_queue_messages: 'gauge',
        mailctl_outbound_send_attempts_total: 'counter', mailctl_oauth_token_refreshes_total: 'counter',
      });
      expect(sampleValue(before.families, 'process_resident_memory_bytes')).toBeGreaterThan(0); // the default process metrics
      // The reader is strict: the same scrape broken is refused.
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(() => parsePrometheusText(text.slice(0, -1))).toThrow(/newline/);
      expect(() => parsePrometheusText(`${text}mailctl_inbound_polls_total{account="contracts",protocol="imap",result="ok"} 1\n`)).toThrow(/not together|twice/);
      expect(() => parsePrometheusText(text.replace(/^(mailctl_outbound_queue_messages\{status="sent"\}) 0$/m, '$1 zero'))).toThrow(/not a number/);
      expect(sampleValue(before.families, 'mailctl_inbound_polls_total', { account: 'contracts', protocol: 'imap', result: 'ok' })).toBeGreaterThanOrEqual(1);
      expect(sampleValue(before.families, 'mailctl_inbound_polls_total', { account: 'contracts', result: 'failed' })).toBe(0);
      expect(sampleValue(before.families, 'mailctl_inbound_consecutive_failures', { account: 'contracts' })).toBe(0);
      expect(sampleValue(before.families, 'mailctl_inbound_seconds_since_last_success', { account: 'contracts' })).toBeLessThan(10);
      expect(sampleValue(before.families, 'mailctl_outbound_send_attempts_total', { outcome: 'sent' })).toBe(0);

      dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'sam@elsewhere.test', subject: 'Cheap offer', messageId: `offer-${port}@elsewhere.test` }));
      const after = await eventually(async () => {
        const s = await scrape(port);
        expect(sampleValue(s.families, 'mailctl_outbound_send_attempts_total', { outcome: 'sent' })).toBe(1);
        return s;
      }, 20_000);
      expect(sink.messages.at(-1)!.to).toEqual(['sam@elsewhere.test']);
      expect(sampleValue(after.families, 'mailctl_inbound_messages_total', { account: 'contracts', disposition: 'rejected' })).toBe(1);
      // Arrival (the IMAP internal date: when the message was delivered) to commit: one observation, within a poll interval and a bit.
      expect(sampleValue(after.families, 'mailctl_inbound_arrival_to_commit_seconds_count', { account: 'contracts' })).toBe(1);
      expect(sampleValue(after.families, 'mailctl_inbound_arrival_to_commit_seconds_sum', { account: 'contracts' })).toBeLessThan(15);
      expect(sampleValue(after.families, 'mailctl_inbound_arrival_to_commit_seconds_bucket', { account: 'contracts', le: '0.1' })).toBe(0);
      expect(sampleValue(after.families, 'mailctl_outbound_queue_messages', { status: 'sent' })).toBe(1);
      expect(sampleValue(after.families, 'mailctl_outbound_queue_messages', { status: 'queued' })).toBe(0);
      expect(sampleValue(after.families, 'mailctl_inbound_polls_total', { account: 'contracts', result: 'ok' })).toBeGreaterThan(sampleValue(before.families, 'mailctl_inbound_polls_total', { account: 'contracts', result: 'ok' })!);

      // A message claimed for sending 10 minutes ago and never finished: stuck.
      const db = await openDatabase(join(env.MAILCTL_HOME, 'mailctl.db'));
      try {
        const id = (db.prepare(`SELECT id FROM outbound_queue WHERE status = 'sent'`).get() as { id: number }).id;
        db.prepare(`UPDATE outbound_queue SET status = 'sending', updated_at = ? WHERE id = ?`).run(new Date(Date.now() - 10 * 60_000).toISOString(), id);
        const stuck = await healthz(port);
        expect(stuck.status).toBe(503);
        expect(stuck.body).toMatch(/^outbound: 1 message\(s\) being sent for more than 5m \(since /);
        db.prepare(`UPDATE outbound_queue SET status = 'sent' WHERE id = ?`).run(id);
        expect((await healthz(port)).status).toBe(200);
      } finally {
        db.close();
      }

      // Only GET/HEAD of the two paths.
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST', body: 'x'.repeat(10_000) })).status).toBe(405);
      const head = await fetch(`http://127.0.0.1:${port}/healthz`, { method: 'HEAD' });
      expect([head.status, await head.text()]).toEqual([200, '']);
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
    expect(existsSync(join(env.MAILCTL_HOME, 'daemon.lock'))).toBe(false);
  }, 60_000);

  it('/healthz is 503 with the reason when an account\'s password is wrong; the failures show in the metrics', async () => {
    const env = await newKb('not-the-password');
    const port = await freePort();
    const daemon = startDaemon(env, ['--metrics', `127.0.0.1:${port}`]);
    try {
      const health = await eventually(async () => {
        const h = await healthz(port);
        expect(h.body).toContain('last error');
        return h;
      });
      expect(health.status).toBe(503);
      expect(health.body).toMatch(/^contracts: no successful poll yet; last error: .*(AUTHENTICATIONFAILED|Authentication failed)/m);
      const json = await healthz(port, 'application/json');
      expect(json.status).toBe(503);
      expect(JSON.parse(json.body)).toMatchObject({ healthy: false, problems: [expect.stringMatching(/^contracts: no successful poll yet/)] });
      const { families } = await scrape(port);
      expect(sampleValue(families, 'mailctl_inbound_polls_total', { account: 'contracts', result: 'failed' })).toBeGreaterThanOrEqual(1);
      expect(sampleValue(families, 'mailctl_inbound_polls_total', { account: 'contracts', result: 'ok' })).toBe(0);
      expect(sampleValue(families, 'mailctl_inbound_consecutive_failures', { account: 'contracts' })).toBeGreaterThanOrEqual(1);
      expect(sampleValue(families, 'mailctl_inbound_seconds_since_last_success', { account: 'contracts' })).toBe(Infinity);
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  }, 30_000);

  it('a metrics port in use, or an address that cannot be bound: exit 2 at start with the reason, no stack, no lock left', async () => {
    const env = await newKb('c-pass');
    const taken: Server = createServer();
    const port = await new Promise<number>((resolve) => taken.listen(0, '127.0.0.1', () => resolve((taken.address() as { port: number }).port)));
    try {
      const inUse = await runCli(['daemon', '--metrics', String(port)], { env });
      expect(inUse.code).toBe(2);
      expect(inUse.stderr).toContain(`The metrics port 127.0.0.1:${port} is in use by another process.`);
      expect(inUse.stderr).not.toMatch(/^\s+at /m);
      expect(inUse.stdout).not.toContain('daemon started');
      expect(existsSync(join(env.MAILCTL_HOME, 'daemon.lock'))).toBe(false);
    } finally {
      taken.close();
    }
    const notOurs = await runCli(['daemon', '--metrics', `192.0.2.1:${port}`], { env }); // TEST-NET-1: never this machine's
    expect(notOurs.code).toBe(2);
    expect(notOurs.stderr).toContain(`The metrics address 192.0.2.1:${port} cannot be bound: 192.0.2.1 is not an address of this machine.`);
    const nonsense = await runCli(['daemon', '--metrics', 'port-9464'], { env });
    expect(nonsense.code).toBe(2);
    expect(nonsense.stderr).toContain('--metrics "port-9464" is not a port or HOST:PORT.');
    expect(existsSync(join(env.MAILCTL_HOME, 'daemon.lock'))).toBe(false);
  }, 30_000);
});

describe('health and token metrics, read from the database', () => {
  const tempDir = useTempDirs();
  let oauth: OAuthServer;
  beforeAll(async () => {
    oauth = await startOAuthServer({ cert: inject('oauthCert'), port: await freePort(), confidentialClientId: 'mailctl-app', clientSecret: 'app-secret-1', publicClientId: 'mailctl-public', appMailbox: 'contracts@acme.test' });
  });
  afterAll(() => oauth?.close());

  it('an account is failing once its last success is older than max(2 min, 3 × its check frequency); a due message waiting 10 minutes is stuck', async () => {
    let now = Date.parse('2026-03-02T10:00:00Z');
    const clock = { now: () => new Date(now) };
    const db = await openDatabase(join(tempDir(), 'mailctl.db'));
    try {
      const view = { accounts: [{ table: 'contracts', protocol: 'imap' as const, enabled: true }, { table: 'off', protocol: 'pop3' as const, enabled: false }], globals: { inbound_check_frequency: 60_000, email_enabled: true } };
      new SyncRepo(db).recordSuccess('contracts', clock.now(), false, new Date(now + 60_000));
      now += 3 * 60_000 - 1000; // within 3 × 1 min
      expect(checkDaemonHealth({ db, clock }, view)).toEqual({ healthy: true, problems: [], notes: [] });
      now += 2000;
      expect(checkDaemonHealth({ db, clock }, view).problems).toEqual(['contracts: no successful poll for 3m 1s (limit 3m), last at 2026-03-02T10:00:00.000Z']);
      expect(checkDaemonHealth({ db, clock }, { ...view, globals: { inbound_check_frequency: 5_000, email_enabled: true } }).problems).toEqual(['contracts: no successful poll for 3m 1s (limit 2m), last at 2026-03-02T10:00:00.000Z']);
      // The kill switch on: nothing is expected to move.
      expect(checkDaemonHealth({ db, clock }, { ...view, globals: { inbound_check_frequency: 60_000, email_enabled: false } })).toMatchObject({ healthy: true, notes: [expect.stringContaining('kill switch')] });

      new SyncRepo(db).recordSuccess('contracts', clock.now(), false, new Date(now + 60_000));
      const queue = new QueueRepo(db, clock);
      queue.enqueue({ table: null, recordId: null, ruleId: null, from: 'a@acme.test', to: ['b@x.test'], subject: 's', body: 'b', attachments: [], contentHash: 'h', status: 'queued' });
      now += 9 * 60_000;
      new SyncRepo(db).recordSuccess('contracts', clock.now(), false, new Date(now + 60_000));
      expect(checkDaemonHealth({ db, clock }, view).healthy).toBe(true);
      now += 2 * 60_000;
      new SyncRepo(db).recordSuccess('contracts', clock.now(), false, new Date(now + 60_000));
      expect(checkDaemonHealth({ db, clock }, view).problems).toEqual(['outbound: 1 due message(s) waiting more than 10m (the oldest due at 2026-03-02T10:03:01.000Z)']);
    } finally {
      db.close();
    }
  });

  it('OAuth token refreshes and their failures are counted by account and provider', async () => {
    const dir = tempDir();
    const db = await openDatabase(join(dir, 'mailctl.db'));
    try {
      const metrics = new DaemonMetrics({ db, clock: { now: () => new Date() } });
      const store = new FileSecretStore({ path: join(dir, 's.enc'), keyPath: join(dir, 'k') });
      await store.set('good', 'app-secret-1');
      await store.set('bad', 'not-the-secret');
      const provider = (place: string, secret: string) => new OAuthTokenProvider(place, { provider: 'microsoft', username: 'contracts@acme.test', clientId: 'mailctl-app', clientSecret: `\${secret:${secret}}`, authorityUrl: oauth.issuer }, 'smtp', { secrets: store, clock: { now: () => new Date() }, onRefresh: (event) => metrics.tokenRefresh(event) });
      const good = provider('outbound', 'good');
      await good.getToken();
      await good.getToken(); // from the cache: not a refresh
      await expect(provider('inbound/contracts', 'bad').getToken()).rejects.toThrow(/invalid_client/);
      const families = parsePrometheusText(await metrics.text());
      expect(sampleValue(families, 'mailctl_oauth_token_refreshes_total', { account: 'outbound', provider: 'microsoft', result: 'ok' })).toBe(1);
      expect(sampleValue(families, 'mailctl_oauth_token_refreshes_total', { account: 'inbound/contracts', provider: 'microsoft', result: 'failed' })).toBe(1);
      expect(sampleValue(families, 'mailctl_oauth_token_refreshes_total', { account: 'outbound', result: 'failed' })).toBeUndefined();
    } finally {
      db.close();
    }
  });
});
