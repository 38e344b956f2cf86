import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommunicationsRepo } from '../../src/store/communications-repo.js';
import { newKb, ok } from '../doctor/doctor-helpers.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { simpleMessage } from '../helpers/messages.js';
import { binPath } from '../helpers/run-cli.js';
import { runMain } from '../helpers/run-main.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { blobExists, ingestAt, openStores } from '../store/store-fixture.js';

const dayMs = 86_400_000;

describe('the daemon purges stored content past message_retention, at most once a day', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'contracts@acme.test', password: 'c-pass' }] });
  });
  afterAll(() => dovecot?.stop());

  it('daemon --once: mail taken from Dovecot is purged once it is 30 days old, by the first run a day after the last purge', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await newKb(env);
    await ok(env, ['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none', '--auth', 'password',
      '--username', 'contracts@acme.test', '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore', '--notes', 'new-text', '--after', 'mark-read'], 'c-pass');
    await ok(env, ['config', 'set', 'message_retention', '30d']);
    const t0 = Date.now();
    // The daemon run at `t0 + days`, as if the calendar had moved on.
    const onceAt = async (days: number) => {
      const result = await runMain(['daemon', '--once', '--json'], { env, clock: { now: () => new Date(t0 + days * dayMs) } });
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as { accounts: Array<{ poll: { processed: number } }>; purge?: { communications: number; blobs: number; complete: boolean; retention: string } };
    };
    const lastPurge = async () => {
      const { db } = await openStores(env.MAILCTL_HOME);
      try {
        return (db.prepare(`SELECT last_run_at AS at FROM housekeeping WHERE task = 'purge'`).get() as { at: string } | undefined)?.at;
      } finally {
        db.close();
      }
    };
    const comm = async (subject: string) => {
      const { db } = await openStores(env.MAILCTL_HOME);
      try {
        const id = (db.prepare('SELECT id FROM communications WHERE subject = ?').get(subject) as { id: number }).id;
        return new CommunicationsRepo(db, { now: () => new Date() }).get(id)!;
      } finally {
        db.close();
      }
    };

    dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'pat@acme.test', subject: 'First', messageId: 'first@acme.test' }));
    const first = await onceAt(0);
    expect(first.accounts[0]!.poll.processed).toBe(1);
    // Due at once (it never ran): nothing is 30 days old yet, and the run is recorded.
    expect(first.purge).toMatchObject({ communications: 0, complete: true, retention: '30d' });
    expect(await lastPurge()).toBe(new Date(t0).toISOString());

    dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'pat@acme.test', subject: 'Second', messageId: 'second@acme.test' }));
    expect((await onceAt(0.5)).purge).toBeUndefined(); // half a day later: not due
    expect(await lastPurge()).toBe(new Date(t0).toISOString());
    dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'pat@acme.test', subject: 'Third', messageId: 'third@acme.test' }));
    expect((await onceAt(20)).purge).toMatchObject({ communications: 0 }); // takes Third; nothing is 30 days old
    const firstRaw = (await comm('First')).rawHash!;
    const secondRaw = (await comm('Second')).rawHash!;
    expect(blobExists(env.MAILCTL_HOME, firstRaw) && blobExists(env.MAILCTL_HOME, secondRaw)).toBe(true);

    // Day 30.2: the first message is past 30 days; the second (taken at 0.5) is not.
    expect((await onceAt(30.2)).purge).toMatchObject({ communications: 1, blobs: 1, complete: true });
    expect(await comm('First')).toMatchObject({ contentPurgeReason: 'message_retention 30d' });
    expect(blobExists(env.MAILCTL_HOME, firstRaw)).toBe(false);
    expect(blobExists(env.MAILCTL_HOME, secondRaw)).toBe(true);

    // Day 30.9: the second is past 30 days now, but the last purge was 0.7 days ago: not again today.
    expect((await onceAt(30.9)).purge).toBeUndefined();
    expect(blobExists(env.MAILCTL_HOME, secondRaw)).toBe(true);
    expect((await comm('Second')).contentPurgedAt).toBeNull();

    // Day 31.3: a day after the last purge, the next one takes it; the human output says what it did.
    const human = await runMain(['daemon', '--once'], { env, clock: { now: () => new Date(t0 + 31.3 * dayMs) } });
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('retention purge (message_retention 30d): purged the content of 1 communication(s): 1 stored item(s)');
    expect(blobExists(env.MAILCTL_HOME, secondRaw)).toBe(false);
    expect(await lastPurge()).toBe(new Date(t0 + 31.3 * dayMs).toISOString());

    // A shorter retention set the same day is applied on the next cycle, not a day later:
    // Third (taken on day 20) is 11.5 days old, the 30d purge ran 0.2 days ago.
    expect((await comm('Third')).contentPurgedAt).toBeNull();
    await ok(env, ['config', 'set', 'message_retention', '10d']);
    expect((await onceAt(31.5)).purge).toMatchObject({ communications: 1, retention: '10d' });
    expect(await comm('Third')).toMatchObject({ contentPurgeReason: 'message_retention 10d' });
  }, 120_000);

  it('the long-running daemon purges at start when due, logs it, and a restart the same day does not purge again', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await newKb(env);
    await ok(env, ['config', 'set', 'message_retention', '30d']);
    const [old, recent] = await ingestAt(env.MAILCTL_HOME, [
      { raw: simpleMessage({ from: 'pat@acme.test', subject: 'Old', messageId: 'old@acme.test' }), at: new Date(Date.now() - 40 * dayMs) },
      { raw: simpleMessage({ from: 'pat@acme.test', subject: 'Recent', messageId: 'recent@acme.test' }), at: new Date(Date.now() - 20 * dayMs) },
    ]);
    const runDaemonUntil = async (pattern: RegExp) => {
      const child = spawn(process.execPath, [binPath, 'daemon', '--tick', '0.2s'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let log = '';
      child.stdout.on('data', (d: Buffer) => (log += d.toString()));
      child.stderr.on('data', (d: Buffer) => (log += d.toString()));
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
      const deadline = Date.now() + 20_000;
      while (!pattern.test(log) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      // A few ticks more: a purge that ran again would show in them.
      await new Promise((r) => setTimeout(r, 1000));
      child.kill('SIGTERM');
      await exited;
      expect(log, log).toMatch(pattern);
      return log.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { msg: string; communications?: number; blobs?: number; retention?: string });
    };
    const firstRun = await runDaemonUntil(/retention purge done/);
    expect(firstRun.filter((l) => l.msg === 'retention purge done')).toEqual([expect.objectContaining({ communications: 1, blobs: 1, retention: '30d' })]);
    expect(blobExists(env.MAILCTL_HOME, old!.rawHash)).toBe(false);
    expect(blobExists(env.MAILCTL_HOME, recent!.rawHash)).toBe(true);

    const secondRun = await runDaemonUntil(/daemon started/);
    expect(secondRun.filter((l) => l.msg.startsWith('retention purge'))).toEqual([]);
  }, 90_000);
});
