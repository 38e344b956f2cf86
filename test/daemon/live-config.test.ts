import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { simpleMessage } from '../helpers/messages.js';
import { runCli } from '../helpers/run-cli.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { startDaemon, waitUntil, type RunningDaemon } from '../reliability/outage-daemon.js';

/**
 * Issue 15, live configuration: a running daemon (a real process) follows `config set`,
 * `configure inbound` and `inbound remove` within 2 s, without a signal.
 */
describe('a running daemon follows configuration changes within 2 s', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  let sink: SmtpSink;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'contracts@acme.test', password: 'c-pass' }, { name: 'support@acme.test', password: 's-pass' }] });
    sink = await startSmtpSink({});
  });
  afterAll(async () => {
    await sink?.close();
    await dovecot?.stop();
  });

  async function setUp() {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const ok = async (args: string[], input?: string) => {
      const r = await runCli(args, { env, ...(input !== undefined ? { input } : {}) });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      return r;
    };
    await ok(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await ok(['tables', 'add', 'contracts']);
    await ok(['tables', 'add', 'support']);
    await ok(['contacts', 'add', 'pat@acme.test', '--can-create', 'contracts', 'support']);
    await ok(['config', 'set', 'inbound_check_frequency', '1h']);
    await ok(['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'none', '--from', 'contracts@acme.test']);
    const inbound = (table: string, password: string, extra: string[] = []) => ok(['configure', 'inbound', table, '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none', '--auth', 'password',
      '--username', `${table}@acme.test`, '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore', '--notes', 'new-text', '--after', 'mark-read', ...extra], password);
    const record = JSON.parse((await ok(['records', 'add', '--table', 'contracts', '--title', 'MSA', '--json'])).stdout).record as { id: number };
    return { env, ok, inbound, recordId: record.id };
  }

  /**
   * How long the daemon took to run on the configuration written last: from config.json's mtime to
   * its log line saying so (both clocks of this machine; the command's own start-up is not counted).
   */
  const pickupMs = async (daemon: RunningDaemon, home: string, after: number) => {
    const { statSync } = await import('node:fs');
    const written = statSync(join(home, 'config.json')).mtimeMs;
    const line = daemon.logLines().find((l) => l.msg === 'configuration changed: the daemon runs on it now' && Date.parse(String(l.time)) >= after);
    expect(line, daemon.output()).toBeDefined();
    return Date.parse(String(line!.time)) - written;
  };
  const polled = (daemon: RunningDaemon, table: string) => daemon.logLines().filter((l) => l.msg === `polled ${table}`).length;
  const recorded = (home: string, subject: string) => {
    const db = new Sqlite(join(home, 'mailctl.db'), { readonly: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM communications WHERE subject = ?').get(subject) as { n: number }).n > 0;
    } finally {
      db.close();
    }
  };
  const failed = (daemon: RunningDaemon, table: string) => daemon.logLines().filter((l) => l.msg === `polling ${table} failed`).length;

  it('the kill switch: set, nothing is sent or taken after 2 s; unset, both resume', async () => {
    const s = await setUp();
    await s.inbound('contracts', 'c-pass');
    const daemon = await startDaemon(s.env);
    try {
      await waitUntil(() => polled(daemon, 'contracts') >= 1, 'the first poll', 15_000, daemon.output);
      const offAt = Date.now() - 1000;
      const off = await s.ok(['config', 'set', 'email_enabled', 'false']);
      expect(off.stdout + off.stderr).toMatch(/running daemon \(pid \d+ on [^)]+\) has picked this up/);
      expect(await pickupMs(daemon, s.env.MAILCTL_HOME, offAt)).toBeLessThan(2000);
      await new Promise((r) => setTimeout(r, 2000));
      const sentBefore = sink.messages.length;
      await s.ok(['send', '--table', 'contracts', '--record', String(s.recordId), '--to', 'pat@acme.test', '--subject', 'Held by the kill switch', '--body', 'x']);
      dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'pat@acme.test', subject: 'Taken only after the switch', messageId: 'kill-1@acme.test' }));
      // An IDLE wake or a due poll must not take it either.
      await new Promise((r) => setTimeout(r, 4000));
      expect(sink.messages.length).toBe(sentBefore);
      const db = await openDatabase(join(s.env.MAILCTL_HOME, 'mailctl.db'));
      try {
        expect(db.prepare("SELECT count(*) AS n FROM communications WHERE subject = 'Taken only after the switch'").get()).toEqual({ n: 0 });
        expect(db.prepare("SELECT status FROM outbound_queue WHERE subject = 'Held by the kill switch'").get()).toEqual({ status: 'queued' });
      } finally {
        db.close();
      }
      // Proof the test can fail: with the switch off again, both go within seconds.
      await s.ok(['config', 'set', 'email_enabled', 'true']);
      await waitUntil(() => sink.messages.some((m) => m.raw.toString().includes('Held by the kill switch')), 'the held message to be sent', 5000, daemon.output);
      await waitUntil(() => recorded(s.env.MAILCTL_HOME, 'Taken only after the switch'), 'the held message to be taken', 5000, daemon.output);
    } finally {
      expect((await daemon.stop()).code).toBe(0);
    }
  }, 90_000);

  it('an account added is polled, changed to a wrong password fails, removed is dropped: each within 2 s', async () => {
    const s = await setUp();
    await s.inbound('contracts', 'c-pass');
    const daemon = await startDaemon(s.env);
    try {
      await waitUntil(() => polled(daemon, 'contracts') >= 1, 'the first poll', 15_000, daemon.output);
      expect(polled(daemon, 'support')).toBe(0);

      let at = Date.now() - 1000;
      const added = await s.inbound('support', 's-pass');
      expect(added.stdout + added.stderr).toMatch(/running daemon \(pid \d+ on [^)]+\) has picked this up/);
      expect(await pickupMs(daemon, s.env.MAILCTL_HOME, at)).toBeLessThan(2000);
      // Polled at once on pickup (not at the next interval: an hour).
      await waitUntil(() => polled(daemon, 'support') >= 1, 'the added account to be polled', 5000, daemon.output);

      at = Date.now() - 1000;
      await s.inbound('support', 'wrong-pass', ['--no-verify']);
      expect(await pickupMs(daemon, s.env.MAILCTL_HOME, at)).toBeLessThan(2000);
      await waitUntil(() => failed(daemon, 'support') >= 1, 'the changed account to fail', 5000, daemon.output);
      // One command, one change: its two writes (the secret, then the config) are loaded together,
      // so the wrong password counts one failure (two made the back-off jump to 2 minutes).
      await new Promise((r) => setTimeout(r, 1500));
      expect(failed(daemon, "support"), daemon.logLines().filter((l) => /configuration|support/.test(String(l.msg))).map((l) => `${String(l.time).slice(17)} ${String(l.msg)} ${JSON.stringify(l.changed ?? l.error ?? "")}`).join("\n")).toBe(1);
      expect(daemon.logLines().find((l) => l.msg === 'polling support failed')!.error).toMatch(/auth|credentials|login/i);

      const removed = await s.ok(['inbound', 'remove', 'support']);
      expect(removed.stdout + removed.stderr).toMatch(/running daemon \(pid \d+ on [^)]+\) has picked this up/);
      const polls = polled(daemon, 'support') + failed(daemon, 'support');
      // The frequency made short: a removed account that were still polled would show within seconds.
      await s.ok(['config', 'set', 'inbound_check_frequency', '5s']);
      await new Promise((r) => setTimeout(r, 6000));
      expect(polled(daemon, 'support') + failed(daemon, 'support')).toBe(polls);
      expect(polled(daemon, 'contracts')).toBeGreaterThanOrEqual(2); // the new frequency, followed

      // Configured again under the same table: it starts clean (no old error, no failure count).
      await s.inbound('support', 's-pass');
      await waitUntil(() => polled(daemon, 'support') >= 2, 'the account configured again to be polled', 5000, daemon.output);
      const status = JSON.parse((await runCli(['status', '--json'], { env: s.env })).stdout) as { accounts: Array<{ table: string; failures: number; lastError: string | null }> };
      expect(status.accounts.find((a) => a.table === 'support')).toMatchObject({ failures: 0, lastError: null });

      // Disabled: not polled (every 5 s otherwise); enabled: polled again at once.
      const disabled = await s.ok(['inbound', 'disable', 'contracts']);
      expect(disabled.stdout).toMatch(/is disabled: it is not polled/);
      const during = polled(daemon, 'contracts');
      await new Promise((r) => setTimeout(r, 6000));
      expect(polled(daemon, 'contracts')).toBe(during);
      expect((await s.ok(['inbound', 'list'])).stdout).toMatch(/contracts .*disabled/);
      await s.ok(['inbound', 'enable', 'contracts']);
      await waitUntil(() => polled(daemon, 'contracts') > during, 'the enabled account to be polled', 4000, daemon.output);
    } finally {
      expect((await daemon.stop()).code).toBe(0);
    }
  }, 120_000);

  it('a config file broken by hand: the daemon keeps the last good configuration and says why; mended, it runs on it', async () => {
    const s = await setUp();
    await s.inbound('contracts', 'c-pass');
    const daemon = await startDaemon(s.env);
    try {
      await waitUntil(() => polled(daemon, 'contracts') >= 1, 'the first poll', 15_000, daemon.output);
      const { readFileSync, writeFileSync } = await import('node:fs');
      const path = join(s.env.MAILCTL_HOME, 'config.json');
      const good = readFileSync(path, 'utf8');
      writeFileSync(path, good.replace('"globals": {', '"globals": {,'));
      await waitUntil(() => daemon.output().includes('the configuration cannot be loaded; the daemon keeps running on the previous one'), 'the broken file to be noticed', 3000, daemon.output);
      const status = await runCli(['status', '--check'], { env: s.env });
      expect(status.code, status.stdout).toBe(1);
      expect(status.stdout).toMatch(/previous configuration/);
      // Still running on the previous configuration: mail still goes.
      dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'pat@acme.test', subject: 'During the broken config', messageId: 'broken-1@acme.test' }));
      const before = polled(daemon, 'contracts');
      daemon.signal('SIGHUP');
      await new Promise((r) => setTimeout(r, 500));
      expect(daemon.running()).toBe(true);
      writeFileSync(path, good);
      await waitUntil(() => daemon.output().includes('configuration changed: the daemon runs on it now'), 'the mended file to be loaded', 3000, daemon.output);
      expect(polled(daemon, 'contracts')).toBeGreaterThanOrEqual(before);
    } finally {
      expect((await daemon.stop()).code).toBe(0);
    }
  }, 90_000);
});
