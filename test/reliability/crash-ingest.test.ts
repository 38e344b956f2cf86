import { spawn } from 'node:child_process';
import { chownSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { simpleMessage } from '../helpers/messages.js';
import { bySize, reliabilityTier } from '../helpers/reliability-tier.js';
import { binPath, runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

/**
 * Issue #8, point 6 (ingest): the daemon is SIGKILLed at random points while it takes
 * mail in, then run to the end. Every source message must end as exactly one
 * communication, one record and one note with its text intact, and be marked done in
 * the mailbox (no message marked read or deleted without having been committed).
 */
const rounds = bySize(20, 5);
/**
 * Rows commit in groups of 32 messages (poll-account), and each round is killed after at least
 * one more group: enough messages that every round still has work left when it dies.
 */
const messages = bySize(900, 250);
/**
 * Each round is killed once this many more messages were committed (random in the range), plus
 * a random few ms: any figure up to 32 is reached by the next group's commit.
 */
const progressPerKill: [number, number] = [1, 32];

interface Case {
  name: string;
  user: string;
  protocol: 'imap' | 'pop3';
  after: 'mark-read' | 'move' | 'delete';
}

const cases: Case[] = [
  { name: 'IMAP, marked read after the commit', user: 'contracts@acme.test', protocol: 'imap', after: 'mark-read' },
  { name: 'IMAP, moved to Processed after the commit', user: 'moved@acme.test', protocol: 'imap', after: 'move' },
  { name: 'POP3, deleted (at QUIT) after the commit', user: 'pop@acme.test', protocol: 'pop3', after: 'delete' },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const randomInt = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));

describe(`kill -9 during ingest (${reliabilityTier} tier: ${rounds} kills, ${messages} messages per mailbox)`, () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: cases.map((c) => ({ name: c.user, password: 'pw' })), folders: ['Processed'] });
    const owner = statSync(dovecot.maildir(cases[0]!.user));
    for (const c of cases) {
      // Straight into the maildir (as the helper's deliver does, without a process per message).
      const maildir = dovecot.maildir(c.user);
      for (let i = 0; i < messages; i++) {
        const name = `${Date.now()}.M${i}P${process.pid}.crash-ingest`;
        const tmp = join(maildir, 'tmp', name);
        writeFileSync(tmp, sourceMessage(c, i));
        chownSync(tmp, owner.uid, owner.gid);
        renameSync(tmp, join(maildir, 'new', name));
      }
    }
  }, 120_000);
  afterAll(() => dovecot?.stop());

  for (const c of cases) {
    it(`${c.name}: ${rounds} kills at random points, then one more run: every message exactly once`, async () => {
      const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
      const cli = async (args: string[], input?: string) => {
        const r = await runCli(args, { env, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
        expect(r.code, `mailctl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
        return r;
      };
      await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
      await cli(['tables', 'add', 'contracts']);
      await cli(['contacts', 'add', 'pat@acme.test', '--can-create', 'contracts']);
      await cli(['contacts', 'add', 'guest@acme.test', '--guest']);
      await cli(['configure', 'inbound', 'contracts', '--protocol', c.protocol, '--host', '127.0.0.1', '--port', String(c.protocol === 'imap' ? dovecot.imapPort : dovecot.pop3Port),
        '--security', 'none', '--auth', 'password', '--username', c.user, '--secret-stdin', ...(c.protocol === 'imap' ? ['--folder', 'INBOX'] : []),
        '--create-records', '--unknown-sender', 'guest', '--guest', 'guest@acme.test', '--notes', 'whole-body', '--after', c.after, ...(c.after === 'move' ? ['--move-to', 'Processed'] : [])], 'pw');

      const dbPath = join(env.MAILCTL_HOME, 'mailctl.db');
      const reader = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
      const committed = () => (reader.prepare("SELECT count(*) AS n FROM communications WHERE direction = 'inbound'").get() as { n: number }).n;
      const maildir = dovecot.maildir(c.user);
      const files = (folder: string, sub: string) => readdirSync(join(maildir, folder, sub)).filter((f) => !f.startsWith('dovecot'));
      /** Messages the mailbox shows as done (read, or moved away). */
      const markedDone = () => (c.after === 'mark-read' ? files('', 'cur').filter((f) => /:2,[A-Z]*S/.test(f)).length
        : c.after === 'move' ? messages - files('', 'new').length - files('', 'cur').length : 0);
      let committedNotMarked = 0;
      const log: string[] = [];
      try {
        for (let round = 0; round < rounds; round++) {
          const before = committed();
          const target = before + randomInt(...progressPerKill);
          // Half the rounds die the moment the target commit is seen (right after a commit, before
          // the mailbox hears the message is done), the others a random few ms later.
          const jitterMs = round % 2 === 0 ? 0 : randomInt(1, 25);
          const child = spawn(process.execPath, [binPath, 'daemon', '--once'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
          const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
          let done: { code: number | null; signal: NodeJS.Signals | null } | undefined;
          void exited.then((r) => (done = r));
          const deadline = Date.now() + 60_000;
          while (!done && committed() < target) {
            if (Date.now() > deadline) {
              child.kill('SIGKILL');
              throw new Error(`round ${round}: no progress from ${before} to ${target} in 60 s`);
            }
            await (jitterMs === 0 ? new Promise((r) => setImmediate(r)) : sleep(5));
          }
          if (!done) {
            if (jitterMs > 0) await sleep(jitterMs);
            child.kill('SIGKILL');
          }
          const result = await exited;
          const after = committed();
          const marked = markedDone();
          // Committed, but killed before the mailbox heard it was done: taken again, only to be marked.
          if (c.protocol === 'imap') committedNotMarked += after - marked;
          log.push(`round ${round}: ${before} → ${after} committed, ${marked} marked done (kill after ${target - before} more + ${jitterMs} ms), ${result.signal ?? `exit ${result.code}`}`);
          // Never the other way round: nothing is marked done before its commit.
          if (c.protocol === 'imap') expect(marked, log.join('\n')).toBeLessThanOrEqual(after);
          // Every round must die by the kill, with work still left: a kill in the middle of the ingest.
          expect(result.signal, log.join('\n')).toBe('SIGKILL');
          expect(after, log.join('\n')).toBeGreaterThanOrEqual(target);
          expect(after, log.join('\n')).toBeLessThan(messages);
        }
      } finally {
        reader.close();
      }

      // A regular run (no forced full sweep): a message marked done without its commit would stay lost here.
      const finish = await runCli(['daemon', '--once', '--json'], { env, timeoutMs: 240_000 });
      expect(finish.code, `${finish.stdout}\n${finish.stderr}`).toBe(0);
      const report = JSON.parse(finish.stdout) as { accounts: Array<{ status: string; poll: { processed: number; alreadyTaken: number } }> };
      expect(report.accounts[0]!.status).toBe('ok');

      const db = await openDatabase(dbPath);
      try {
        const rows = db.prepare(`SELECT c.message_id AS messageId, c.record_id AS recordId, c.disposition, n.body, (SELECT count(*) FROM record_notes WHERE communication_id = c.id) AS notes
          FROM communications c LEFT JOIN record_notes n ON n.communication_id = c.id WHERE c.direction = 'inbound'`).all() as Array<{ messageId: string; recordId: number | null; disposition: string; body: string | null; notes: number }>;
        const records = (db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n;
        const notes = (db.prepare('SELECT count(*) AS n FROM record_notes').get() as { n: number }).n;
        const byMessageId = new Map<string, number>();
        for (const r of rows) byMessageId.set(r.messageId, (byMessageId.get(r.messageId) ?? 0) + 1);
        const missing = Array.from({ length: messages }, (_, i) => messageIdOf(c, i)).filter((id) => !byMessageId.has(id));
        const twice = [...byMessageId].filter(([, n]) => n > 1).map(([id]) => id);
        expect(missing, log.join('\n')).toEqual([]);
        expect(twice).toEqual([]);
        expect(rows).toHaveLength(messages);
        expect(records).toBe(messages); // each message made one record (a contact's or the guest's)
        expect(notes).toBe(messages);
        for (const r of rows) {
          const i = Number(/^crash-\w+-(\d+)@/.exec(r.messageId)![1]);
          expect(r.notes, r.messageId).toBe(1);
          expect(r.recordId, r.messageId).not.toBeNull();
          expect(r.body, r.messageId).toContain(`first line of ${i}`);
          expect(r.body, r.messageId).toContain(`last line of ${i}`);
        }
      } finally {
        db.close();
      }

      // And the mailbox: everything marked done, nothing left behind.
      if (c.after === 'mark-read') {
        expect(files('', 'new')).toEqual([]);
        const cur = files('', 'cur');
        expect(cur).toHaveLength(messages);
        expect(cur.filter((f) => !/:2,[A-Z]*S/.test(f))).toEqual([]);
      } else if (c.after === 'move') {
        expect([...files('', 'new'), ...files('', 'cur')]).toEqual([]);
        expect([...files('.Processed', 'new'), ...files('.Processed', 'cur')]).toHaveLength(messages);
      } else {
        expect([...files('', 'new'), ...files('', 'cur')]).toEqual([]);
      }
      console.info(`${c.name}:\n  ${log.join('\n  ')}\n  committed but not yet marked done at a kill: ${c.protocol === 'imap' ? committedNotMarked : 'all (POP3 deletes at QUIT)'}`);
    }, bySize(900_000, 150_000));
  }
});

function messageIdOf(c: Case, i: number): string {
  return `crash-${c.protocol}${c.after.replace('-', '')}-${i}@acme.test`;
}

/** A third from a contact (a record under pat), the rest from strangers (a record under the guest); a few KB of body each. */
function sourceMessage(c: Case, i: number): string {
  const filler = Array.from({ length: 40 }, (_, line) => `line ${line} of message ${i}: the quick brown fox jumps over the lazy dog`).join('\r\n');
  return simpleMessage({
    from: i % 3 === 0 ? 'pat@acme.test' : `stranger${i}@elsewhere.test`,
    subject: `Message ${i}`,
    messageId: messageIdOf(c, i),
    body: `first line of ${i}\r\n${filler}\r\nlast line of ${i}`,
  });
}
