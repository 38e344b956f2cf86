import { chownSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { simpleMessage } from '../helpers/messages.js';
import { bySize, reliabilityTier } from '../helpers/reliability-tier.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { cliJson, startDaemon, waitUntil, type RunningDaemon } from './outage-daemon.js';

/**
 * Issue #8, point 7b: Dovecot is restarted while `mailctl daemon` (the loop) is in the
 * middle of a poll. The daemon keeps running, the failed poll is reported (status, the
 * log), and the next poll takes everything — what was left and what arrived during the
 * outage — exactly once, with every message whole.
 */
const waiting = bySize(600, 150);
const arrivingDuringOutage = bySize(60, 15);
const user = 'contracts@acme.test';

describe(`Dovecot restarted mid-poll (${reliabilityTier} tier: ${waiting} messages waiting, ${arrivingDuringOutage} arriving during the outage)`, () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  let owner: { uid: number; gid: number };
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: user, password: 'c-pass' }] });
    owner = statSync(dovecot.maildir(user));
  });
  afterAll(() => dovecot?.stop());
  let daemon: RunningDaemon | undefined;
  afterEach(() => daemon?.kill());

  /** Straight into the maildir: works while Dovecot is down too, as an MTA's local delivery would. */
  const deliver = (i: number) => {
    const name = `${Date.now()}.M${i}P${process.pid}.outage-imap`;
    const tmp = join(dovecot.maildir(user), 'tmp', name);
    writeFileSync(tmp, sourceMessage(i));
    chownSync(tmp, owner.uid, owner.gid);
    renameSync(tmp, join(dovecot.maildir(user), 'new', name));
  };

  it('the daemon keeps running, reports the failed poll, and the next poll takes every message exactly once', async () => {
    for (let i = 0; i < waiting; i++) deliver(i);
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await cliJson(env, ['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await cliJson(env, ['tables', 'add', 'contracts']);
    await cliJson(env, ['contacts', 'add', 'pat@acme.test', '--can-create', 'contracts']);
    await cliJson(env, ['contacts', 'add', 'guest@acme.test', '--guest']);
    await cliJson(env, ['config', 'set', 'inbound_check_frequency', '5s']);
    await cliJson(env, ['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none', '--auth', 'password',
      '--username', user, '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'guest', '--guest', 'guest@acme.test', '--notes', 'whole-body', '--after', 'mark-read'], 'c-pass');

    const dbPath = join(env.MAILCTL_HOME, 'mailctl.db');
    const reader = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
    const committed = () => (reader.prepare("SELECT count(*) AS n FROM communications WHERE direction = 'inbound'").get() as { n: number }).n;
    const status = async () => (await cliJson(env, ['status'])) as { daemon: { state: string; pid: number; heartbeatAt: string }; accounts: Array<{ lastError: string | null; failures: number; lastOkAt: string | null; lastPollAt: string | null; nextPollAt: string | null }> };
    try {
      daemon = await startDaemon(env);
      const d = daemon;
      const diag = () => `committed ${committed()}\ndaemon log:\n${d.output().slice(-4000)}\ndovecot log:\n${dovecot.log().slice(-2000)}`;
      const cutAt = 5 + Math.floor(Math.random() * (waiting / 5));
      const deadline = Date.now() + 120_000;
      while (committed() < cutAt) {
        if (Date.now() > deadline) throw new Error(`the first poll did not get ${cutAt} messages in\n${diag()}`);
        await new Promise((r) => setTimeout(r, 5));
      }

      let atCut = 0;
      let duringOutage: Awaited<ReturnType<typeof status>> | undefined;
      const haltAt = Date.now();
      await dovecot.restart(async () => {
        atCut = committed();
        console.info(`the restart began at ${cutAt} taken; Dovecot was down ${Date.now() - haltAt} ms later, with ${atCut} taken`);
        // Down: the poll in hand fails, the daemon says so and carries on (heartbeat, no exit).
        await waitUntil(async () => (await status()).accounts[0]!.lastError !== null, 'the failed poll to be reported', 120_000, diag);
        for (let i = waiting; i < waiting + arrivingDuringOutage; i++) deliver(i);
        await new Promise((r) => setTimeout(r, 1500));
        duringOutage = await status();
        expect(d.running()).toBe(true);
      });
      expect(atCut, 'Dovecot went down after the poll had finished').toBeLessThan(waiting);
      expect(duringOutage!.daemon).toMatchObject({ state: 'up', pid: d.pid });
      const failed = duringOutage!.accounts[0]!;
      expect(failed.failures).toBeGreaterThanOrEqual(1);
      expect(failed.lastError).toBeTruthy();
      expect(Date.parse(failed.nextPollAt!)).toBeGreaterThan(Date.parse(failed.lastPollAt!));
      const errors = d.logLines().filter((l) => l.msg === 'polling contracts failed');
      expect(errors.length).toBeGreaterThanOrEqual(1);
      expect(errors.every((l) => l.level === 50 && l.account === 'contracts')).toBe(true);
      expect(errors.map((l) => l.error)).toContain(failed.lastError);

      // Back: the next poll takes the rest and the newcomers, exactly once.
      const total = waiting + arrivingDuringOutage;
      await waitUntil(async () => committed() === total && (await status()).accounts[0]!.lastError === null, 'the next poll to take everything', 240_000, diag);
      await new Promise((r) => setTimeout(r, 6000)); // one more poll interval: nothing may be taken twice
      const recovered = await status();
      expect(recovered.accounts[0]).toMatchObject({ lastError: null, failures: 0 });
      expect(Date.parse(recovered.accounts[0]!.lastOkAt!)).toBeGreaterThan(Date.parse(failed.lastPollAt!));
      expect(Date.parse(recovered.daemon.heartbeatAt)).toBeGreaterThan(Date.parse(duringOutage!.daemon.heartbeatAt));
      expect(d.running()).toBe(true);
      const stopped = await d.stop();
      expect(stopped.code).toBe(0);
      expect(stopped.ms).toBeLessThan(10_000);
      console.info(`Dovecot went down with ${atCut} of ${waiting} taken; reported: "${failed.lastError}"; ${failed.failures} failed poll(s) before it was back`);
    } finally {
      reader.close();
    }

    const db = await openDatabase(dbPath);
    try {
      const rows = db.prepare(`SELECT c.message_id AS messageId, n.body, (SELECT count(*) FROM record_notes WHERE communication_id = c.id) AS notes
        FROM communications c LEFT JOIN record_notes n ON n.communication_id = c.id WHERE c.direction = 'inbound'`).all() as Array<{ messageId: string; body: string | null; notes: number }>;
      const total = waiting + arrivingDuringOutage;
      const ids = rows.map((r) => r.messageId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.sort()).toEqual(Array.from({ length: total }, (_, i) => messageIdOf(i)).sort());
      expect((db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n).toBe(total);
      expect((db.prepare('SELECT count(*) AS n FROM record_notes').get() as { n: number }).n).toBe(total);
      for (const r of rows) {
        const i = Number(/^outage-(\d+)@/.exec(r.messageId)![1]);
        expect(r.notes, r.messageId).toBe(1);
        // Whole: a message cut off by the restart was never committed half.
        expect(r.body, r.messageId).toContain(`first line of ${i}`);
        expect(r.body, r.messageId).toContain(`last line of ${i}`);
      }
    } finally {
      db.close();
    }
    const maildir = dovecot.maildir(user);
    expect(readdirSync(join(maildir, 'new'))).toEqual([]);
    const cur = readdirSync(join(maildir, 'cur'));
    expect(cur).toHaveLength(waiting + arrivingDuringOutage);
    expect(cur.filter((f) => !/:2,[A-Z]*S/.test(f))).toEqual([]);
  }, bySize(600_000, 150_000));
});

function messageIdOf(i: number): string {
  return `outage-${i}@acme.test`;
}

/** About 24 KB each, so a restart can cut one off in the middle of its literal. */
function sourceMessage(i: number): string {
  const filler = Array.from({ length: 300 }, (_, line) => `line ${line} of message ${i}: the quick brown fox jumps over the lazy dog`).join('\r\n');
  return simpleMessage({
    from: i % 3 === 0 ? 'pat@acme.test' : `stranger${i}@elsewhere.test`,
    subject: `Message ${i}`,
    messageId: messageIdOf(i),
    body: `first line of ${i}\r\n${filler}\r\nlast line of ${i}`,
  });
}
