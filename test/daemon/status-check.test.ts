import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { DaemonStateRepo } from '../../src/store/daemon-state-repo.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { freePort } from '../helpers/free-port.js';
import { binPath, runCli } from '../helpers/run-cli.js';
import { clockAhead, runMain } from '../helpers/run-main.js';
import { useTempDirs } from '../helpers/temp-dir.js';

/** Issue 15, item 2: `status` and `status --check` tell the truth about the daemon, at once. */
describe('mailctl status --check', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'contracts@acme.test', password: 'c-pass' }, { name: 'invoices@acme.test', password: 'i-pass' }] });
  });
  afterAll(async () => {
    await dovecot?.stop();
  });

  async function newKb(): Promise<Record<string, string>> {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    expect((await runCli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production'], { env })).code).toBe(0);
    return env;
  }

  async function addAccount(env: Record<string, string>, table: string, password: string): Promise<void> {
    await runCli(['tables', 'add', table], { env });
    const added = await runCli(['configure', 'inbound', table, '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none', '--auth', 'password',
      '--username', `${table}@acme.test`, '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore', '--notes', 'new-text', '--after', 'mark-read', '--no-verify'], { env, input: password });
    expect(added.code, added.stderr).toBe(0);
  }

  function startDaemon(env: Record<string, string>): { child: ChildProcess; exited: Promise<number | null>; log: () => string } {
    const child = spawn(process.execPath, [binPath, 'daemon', '--tick', '0.2s'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    return { child, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))), log: () => log };
  }

  async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  const check = (env: Record<string, string>) => runCli(['status', '--check'], { env });
  const checkJson = async (env: Record<string, string>) => JSON.parse((await runCli(['status', '--check', '--json'], { env })).stdout);

  it('a running daemon is OK (0); a broken config line it kept away from, or an account with a wrong password, is WARNING (1); SIGTERM is CRITICAL "stopped" (2) at once', async () => {
    const env = await newKb();
    await runCli(['config', 'set', 'inbound_check_frequency', '5s'], { env });
    await addAccount(env, 'contracts', 'c-pass');
    const daemon = startDaemon(env);
    try {
      await until('the first good poll', async () => {
        const s = await checkJson(env);
        return s.daemon.state === 'up' && s.accounts[0]?.lastOkAt ? s : undefined;
      });
      let result = await check(env);
      expect(result.stdout, daemon.log()).toMatch(/^MAILCTL OK - daemon up since \S+ \(pid \d+ on .*; 1 account\(s\) ok; 0 message\(s\) waiting \| waiting=0 stuck=0 sending=0 failing_accounts=0 quarantined=0\n$/);
      expect(result.code).toBe(0);
      const json = await checkJson(env);
      expect(json).toMatchObject({ ok: true, health: { level: 'ok', code: 0, problems: [] }, daemon: { state: 'up', running: true, mode: 'loop', pid: daemon.child.pid } });

      // The config file broken by hand: the watcher kept the previous configuration and says why.
      const db = await openDatabase(join(env.MAILCTL_HOME!, 'mailctl.db'));
      new DaemonStateRepo(db).recordConfig('acme-prod', { generation: 'g-1', error: 'config.json: Unexpected token } in JSON at position 212' });
      result = await check(env);
      expect(result.stdout).toMatch(/^MAILCTL WARNING - daemon up; running on the previous configuration: config\.json: Unexpected token \} in JSON at position 212 \(since \S+\) \| /);
      expect(result.code).toBe(1);
      const human = await runCli(['status'], { env });
      expect(human.code).toBe(0); // plain status stays 0
      expect(human.stdout).toMatch(/^\s+⚠ running on the previous configuration: config\.json: Unexpected token/m);
      expect((await checkJson(env)).daemon).toMatchObject({ configGeneration: 'g-1', configError: expect.stringContaining('Unexpected token') });
      new DaemonStateRepo(db).recordConfig('acme-prod', { generation: 'g-2', error: null });
      db.close();
      expect((await check(env)).code).toBe(0);

      // An account whose password is wrong: failing, so degraded.
      await addAccount(env, 'invoices', 'not-the-password');
      daemon.child.kill('SIGHUP');
      const failing = await until('the failing poll', async () => {
        const r = await check(env);
        return r.code === 1 ? r : undefined;
      });
      expect(failing.stdout).toMatch(/^MAILCTL WARNING - daemon up; account invoices failing \(1 poll\(s\) in a row\): The IMAP server refused the login/);
      expect(failing.stdout).toContain('failing_accounts=1');

      daemon.child.kill('SIGTERM');
      expect(await daemon.exited).toBe(0);
      result = await check(env);
      expect(result.stdout).toMatch(/^MAILCTL CRITICAL - daemon stopped at \S+ \(pid \d+ on /);
      expect(result.code).toBe(2);
      expect((await checkJson(env)).daemon).toMatchObject({ state: 'stopped', running: false });
      expect((await runCli(['status'], { env })).stdout).toMatch(/^daemon\s+stopped at /m);
    } finally {
      daemon.child.kill('SIGKILL');
    }
  }, 60_000);

  it('SIGKILL: "stopped (crashed)" at once, in status, --check (2) and doctor', async () => {
    const env = await newKb();
    const daemon = startDaemon(env);
    try {
      await until('the daemon to start', async () => (/daemon started/.test(daemon.log()) ? true : undefined));
      expect((await check(env)).code).toBe(0);
    } finally {
      daemon.child.kill('SIGKILL');
    }
    await daemon.exited;
    const result = await check(env);
    expect(result.stdout).toMatch(new RegExp(`^MAILCTL CRITICAL - daemon stopped \\(crashed\\): pid ${daemon.child.pid} on \\S+ is gone; last heartbeat `));
    expect(result.code).toBe(2);
    expect((await runCli(['status'], { env })).stdout).toMatch(/^daemon\s+stopped \(crashed\)/m);
    const doctor = JSON.parse((await runCli(['doctor', '--json', '--no-network', '--only', 'queue'], { env })).stdout);
    expect(doctor.findings).toEqual(expect.arrayContaining([expect.objectContaining({ check: 'daemon.heartbeat', title: expect.stringMatching(new RegExp(`^The daemon crashed: pid ${daemon.child.pid} is gone`)) })]));
  }, 30_000);

  it('a daemon on another host: its heartbeat decides (fresh: up; stale: down, no heartbeat since …)', async () => {
    const env = await newKb();
    const db = await openDatabase(join(env.MAILCTL_HOME!, 'mailctl.db'));
    // A pid that is certainly not a daemon here: only the heartbeat may count for another host.
    const beat = (at: Date) => new DaemonStateRepo(db).beat({ kb: 'acme-prod', pid: 1, host: 'mail-2.acme.test', startedAt: '2026-01-01T00:00:00.000Z', heartbeatAt: at.toISOString() });
    beat(new Date());
    let result = await check(env);
    expect(result.stdout).toMatch(/^MAILCTL OK - daemon up since 2026-01-01T00:00:00\.000Z \(pid 1 on mail-2\.acme\.test, /);
    expect(result.code).toBe(0);
    const stale = new Date(Date.now() - 3 * 60_000);
    beat(stale);
    db.close();
    result = await check(env);
    expect(result.stdout).toMatch(new RegExp(`^MAILCTL CRITICAL - daemon down, no heartbeat since ${stale.toISOString().replace(/\./g, '\\.')} \\(pid 1 on mail-2\\.acme\\.test\\)`));
    expect(result.code).toBe(2);
  }, 30_000);

  it('cron: `daemon --once` leaves its run, healthy while recent, down when none came since; the kill switch, stuck and "sending" mail are WARNING', async () => {
    const env = await newKb();
    expect((await check(env)).stdout).toMatch(/^MAILCTL CRITICAL - daemon never ran for this KB/);
    expect((await runCli(['daemon', '--once'], { env })).code).toBe(0);
    let result = await check(env);
    expect(result.stdout).toMatch(/^MAILCTL OK - daemon last run by `daemon --once` at \S+ \(ok\); 0 account\(s\) ok/);
    expect(result.code).toBe(0);
    expect((await runCli(['status'], { env })).stdout).toMatch(/^daemon\s+last run by `daemon --once` at /m);
    // Three minutes later (inbound_check_frequency 1m: the window is 3 minutes), no run came.
    result = await runMain(['status', '--check'], { env, clock: clockAhead(3 * 60_000 + 5_000) });
    expect(result.stdout).toMatch(/^MAILCTL CRITICAL - daemon no recent run: last run by `daemon --once` at \S+ \(ok\), none in the last 180 s/);
    expect(result.code).toBe(2);
    const doctor = JSON.parse((await runMain(['doctor', '--json', '--no-network', '--only', 'queue'], { env, clock: clockAhead(3 * 60_000 + 5_000) })).stdout);
    expect(doctor.findings).toEqual(expect.arrayContaining([expect.objectContaining({ check: 'daemon.heartbeat', title: expect.stringMatching(/^`daemon --once` has not run recently/), command: 'mailctl daemon --once' })]));

    // A message that cannot go (nothing listens) waits; an hour and more on, it is stuck.
    await runCli(['tables', 'add', 'contracts'], { env });
    const record = JSON.parse((await runCli(['records', 'add', '--table', 'contracts', '--title', 'MSA', '--json'], { env })).stdout).record;
    await runCli(['configure', 'server', '--host', '127.0.0.1', '--port', String(await freePort()), '--security', 'none', '--auth', 'none', '--from', 'a@acme.test', '--no-verify'], { env });
    await runCli(['send', '--table', 'contracts', '--record', String(record.id), '--to', 'pat@acme.test', '--subject', 'Hi', '--body', 'x'], { env });
    expect((await runCli(['daemon', '--once'], { env })).code).toBe(0);
    expect((await check(env)).code).toBe(0); // deferred once: retrying, not stuck
    const db = await openDatabase(join(env.MAILCTL_HOME!, 'mailctl.db'));
    db.prepare('UPDATE outbound_queue SET first_failure_at = ?').run(new Date(Date.now() - 61 * 60_000).toISOString());
    result = await check(env);
    expect(result.stdout).toMatch(/^MAILCTL WARNING - daemon last run by `daemon --once` at \S+ \(ok\); 1 message\(s\) waiting for over 60 min \(oldest since /);
    expect(result.code).toBe(1);
    db.prepare(`UPDATE outbound_queue SET status = 'sending'`).run();
    db.close();
    result = await check(env);
    expect(result.stdout).toMatch(/1 message\(s\) in "sending" with no daemon running/);
    expect(result.code).toBe(1);

    await runCli(['config', 'set', 'email_enabled', 'false'], { env });
    result = await check(env);
    expect(result.stdout).toMatch(/email_enabled is false: the kill switch is on/);
    expect(result.code).toBe(1);
  }, 30_000);
});
