import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { simpleMessage } from '../helpers/messages.js';
import { binPath, runCli } from '../helpers/run-cli.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { useTempDirs } from '../helpers/temp-dir.js';

describe('the long-running daemon', () => {
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

  it('one per KB, polls when due, sends the queue, a policy "reject" notice; SIGHUP reloads; SIGTERM stops within 10 s', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await runCli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production'], { env });
    await runCli(['tables', 'add', 'contracts'], { env });
    await runCli(['config', 'set', 'inbound_check_frequency', '5s'], { env });
    await runCli(['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'none', '--from', 'contracts@acme.test'], { env });
    expect((await runCli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none', '--auth', 'password',
      '--username', 'contracts@acme.test', '--secret-stdin', '--folder', 'INBOX', '--no-create-records', '--unknown-sender', 'reject', '--notes', 'new-text', '--after', 'mark-read'], { env, input: 'c-pass' })).code).toBe(0);

    const daemon: ChildProcess = spawn(process.execPath, [binPath, 'daemon', '--tick', '0.2s'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    daemon.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    daemon.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((resolve) => daemon.on('exit', (code) => resolve(code)));
    const waitFor = async (pattern: RegExp, ms = 15_000) => {
      const deadline = Date.now() + ms;
      while (!pattern.test(log)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; log:\n${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    try {
      await waitFor(/"msg":"daemon started"/);
      expect(JSON.parse(log.split('\n').find((l) => l.includes('daemon started'))!)).toMatchObject({ level: 30, app: 'mailctl', kb: 'acme-prod' });

      const second = await runCli(['daemon'], { env });
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(`Another mailctl daemon is running for this KB: pid ${daemon.pid}`);
      // --once beside it would release the loop's claims on the messages in hand: refused too.
      const once = await runCli(['daemon', '--once'], { env });
      expect(once.code).toBe(1);
      expect(once.stderr).toContain(`Another mailctl daemon is running for this KB: pid ${daemon.pid}`);
      expect(once.stderr).toContain('two at once could send a message twice');

      dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'sam@elsewhere.test', subject: 'Cheap offer', messageId: 'spam-1@elsewhere.test' }));
      await waitFor(/"processed":1/, 20_000);
      await waitFor(/"sent":1.*"msg":"outbound cycle"/, 20_000);
      expect(sink.messages.at(-1)!.to).toEqual(['sam@elsewhere.test']);
      expect(sink.messages.at(-1)!.raw.toString()).toMatch(/^Subject: Not accepted: your message to contracts \[ref:/m);
      expect(sink.messages.at(-1)!.raw.toString()).toMatch(/^Auto-Submitted: auto-replied\r$/m);

      const db = await openDatabase(join(env.MAILCTL_HOME, 'mailctl.db'));
      expect(db.prepare('SELECT pid FROM daemon_state').get()).toEqual({ pid: daemon.pid });
      db.close();

      daemon.kill('SIGHUP');
      await waitFor(/configuration reloaded \(SIGHUP\)/);

      const stoppedAt = Date.now();
      daemon.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - stoppedAt).toBeLessThan(10_000);
      expect(log).toContain('"msg":"daemon stopped"');
      expect(existsSync(join(env.MAILCTL_HOME, 'daemon.lock'))).toBe(false);
    } finally {
      daemon.kill('SIGKILL');
    }
  }, 90_000);

  it('takes over the lock of a daemon that was killed', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await runCli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production'], { env });
    const first = spawn(process.execPath, [binPath, 'daemon', '--tick', '0.2s'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    first.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 100 && !out.includes('daemon started'); i++) await new Promise((r) => setTimeout(r, 100));
    const firstExit = new Promise((r) => first.on('exit', r));
    first.kill('SIGKILL');
    await firstExit;
    expect(existsSync(join(env.MAILCTL_HOME, 'daemon.lock'))).toBe(true);
    const once = spawn(process.execPath, [binPath, 'daemon', '--tick', '0.2s'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'ignore'] });
    const onceExit = new Promise((r) => once.on('exit', r));
    let again = '';
    once.stdout!.on('data', (d: Buffer) => (again += d.toString()));
    for (let i = 0; i < 100 && !again.includes('daemon started'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(again).toContain('daemon started');
    once.kill('SIGTERM');
    expect(await onceExit).toBe(0);
  }, 60_000);
});
