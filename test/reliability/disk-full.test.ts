import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsMessageStore } from '../../src/store/fs-message-store.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { runCli } from '../helpers/run-cli.js';

/**
 * Issue 13, "Done when" 2 (disk full): the data directory — message store and database — is a
 * small tmpfs mounted by the test, and more mail arrives than fits. `daemon --once` fails the
 * poll with a clear error and no stack trace; no message is marked done (read, or deleted)
 * unless it is stored and committed; once space is freed the next run takes the rest, and
 * every message ends as exactly one communication with its bytes and attachments intact.
 *
 * Two ways to run out: the message store fills first (incompressible attachments), or the
 * database does (long text bodies: gzip shrinks them in the store, SQLite keeps them whole, as
 * the text and as the note, and its write-ahead log copies them once more). In the second case
 * the first group's rows need more than is free while its blobs fit: they commit in the store,
 * the rows do not, and the blobs are orphans the next start removes.
 */
const mib = 1024 * 1024;

interface Case {
  name: string;
  user: string;
  protocol: 'imap' | 'pop3';
  after: 'mark-read' | 'delete';
  messages: number;
  /** Space left free on the tmpfs when the daemon starts. */
  freeBytes: number;
  build: (i: number) => { raw: Buffer; attachments: string[] };
  /** The words the failed poll must say. */
  says: RegExp;
}

const messageIdOf = (user: string, i: number) => `full-${user.split('@')[0]}-${i}@partner.test`;

function withAttachment(user: string, i: number): { raw: Buffer; attachments: string[] } {
  const scan = randomBytes(300 * 1024); // random: the store cannot compress it
  const raw = [
    'From: lee@partner.test', 'To: contracts@acme.test', `Subject: Scan ${i}`, `Message-ID: <${messageIdOf(user, i)}>`, 'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b"', '', '--b', 'Content-Type: text/plain', '', `Scan ${i} attached.`, '--b',
    'Content-Type: application/pdf', 'Content-Transfer-Encoding: base64', `Content-Disposition: attachment; filename="scan-${i}.pdf"`, '',
    scan.toString('base64').replace(/.{76}/g, '$&\r\n'), '--b--', '',
  ].join('\r\n');
  return { raw: Buffer.from(raw), attachments: [createHash('sha256').update(scan).digest('hex')] };
}

function longText(user: string, i: number): { raw: Buffer; attachments: string[] } {
  // 150 KB of text that gzip shrinks about tenfold: the database grows ten times faster than the store.
  const lines = Array.from({ length: 2000 }, (_, n) => `line ${n} of report ${i}: the figures for the quarter are in the table below.`);
  const raw = ['From: lee@partner.test', 'To: contracts@acme.test', `Subject: Report ${i}`, `Message-ID: <${messageIdOf(user, i)}>`, 'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8', '', ...lines, ''].join('\r\n');
  return { raw: Buffer.from(raw), attachments: [] };
}

const cases: Case[] = [
  { name: 'the message store fills first (IMAP, mark read)', user: 'scans@acme.test', protocol: 'imap', after: 'mark-read', messages: 40, freeBytes: 9 * mib, build: (i) => withAttachment('scans@acme.test', i), says: /The message store's disk is full/ },
  { name: 'the database fills first (POP3, delete)', user: 'reports@acme.test', protocol: 'pop3', after: 'delete', messages: 80, freeBytes: 7 * mib, build: (i) => longText('reports@acme.test', i), says: /The database's disk is full/ },
];

const stackTrace = /\n\s+at .+:\d+:\d+\)?(\n|$)/;

describe('disk full while taking mail in: a tmpfs as the data directory (mounted by the test, as root)', () => {
  let dovecot: Dovecot;
  const mounts: string[] = [];
  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('this test mounts a tmpfs (mount -t tmpfs): run it as root');
    dovecot = await startDovecot({ users: cases.map((c) => ({ name: c.user, password: 'pw' })) });
  });
  afterAll(async () => {
    for (const dir of mounts) {
      try {
        execFileSync('umount', [dir]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    await dovecot?.stop();
  });

  for (const c of cases) {
    it(`${c.name}: the poll fails clearly, nothing unstored is marked done, and the rest is taken once there is space`, async () => {
      const home = mkdtempSync(join(tmpdir(), 'mailctl-full-'));
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m,mode=0700', 'tmpfs', home]);
      mounts.push(home);
      const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
      const cli = async (args: string[], input?: string) => {
        const r = await runCli(args, { env, timeoutMs: 120_000, ...(input !== undefined ? { input } : {}) });
        expect(r.code, `mailctl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
        return r;
      };
      await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
      await cli(['tables', 'add', 'contracts']);
      await cli(['contacts', 'add', 'lee@partner.test', '--can-create', 'contracts']);
      await cli(['configure', 'inbound', 'contracts', '--protocol', c.protocol, '--host', '127.0.0.1', '--port', String(c.protocol === 'imap' ? dovecot.imapPort : dovecot.pop3Port),
        '--security', 'none', '--auth', 'password', '--username', c.user, '--secret-stdin', ...(c.protocol === 'imap' ? ['--folder', 'INBOX'] : []),
        '--create-records', '--unknown-sender', 'ignore', '--notes', 'whole-body', '--after', c.after], 'pw');

      const expected = new Map<string, { sha256: string; attachments: string[] }>();
      let total = 0;
      for (let i = 0; i < c.messages; i++) {
        const m = c.build(i);
        dovecot.deliver(c.user, m.raw);
        expected.set(messageIdOf(c.user, i), { sha256: createHash('sha256').update(m.raw).digest('hex'), attachments: m.attachments });
        total += m.raw.length;
      }
      // A filler file takes all but `freeBytes` of the tmpfs; deleting it is "freeing space".
      const free = () => { const s = statfsSync(home); return s.bavail * s.bsize; };
      const filler = join(home, 'filler');
      writeFileSync(filler, Buffer.alloc(free() - c.freeBytes));
      expect(free()).toBeLessThan(c.freeBytes + mib);

      const full = await runCli(['daemon', '--once', '--json'], { env, timeoutMs: 120_000 });
      const log = [`first run (${(total / mib).toFixed(1)} MB of mail, ${(c.freeBytes / mib).toFixed(0)} MB free): exit ${full.code}`, full.stdout.slice(0, 2000), full.stderr.slice(0, 2000)].join('\n');
      expect(full.code, log).toBe(1);
      const report = JSON.parse(full.stdout) as { accounts: Array<{ status: string; error?: string }> };
      expect(report.accounts[0]!.status, log).toBe('failed');
      expect(report.accounts[0]!.error, log).toMatch(c.says);
      expect(full.stderr, log).toMatch(c.says);
      expect(full.stderr, log).not.toMatch(stackTrace);
      expect(full.stderr, log).not.toContain('unexpected error');

      // Nothing is marked done that is not committed: each message without a communication is
      // still in the mailbox, unread; each one gone or read has its communication.
      const taken = committedMessageIds(home);
      const mailbox = mailboxState(dovecot.maildir(c.user));
      expect(taken.size, log).toBeLessThan(c.messages); // it did run out of space
      for (const id of expected.keys()) {
        if (taken.has(id)) continue;
        // (Dovecot's POP3 flags what was downloaded as read at QUIT; POP3 has no read mark of its own.)
        if (c.protocol === 'imap') expect(mailbox.get(id), `${id} is not committed: it must still be there, unread\n${log}`).toBe('unseen');
        else expect(mailbox.has(id), `${id} is not committed: it must still be there\n${log}`).toBe(true);
      }
      if (c.protocol === 'imap') for (const [id, state] of mailbox) if (state === 'seen') expect(taken.has(id), `${id} was marked read without its commit`).toBe(true);
      for (const id of expected.keys()) if (!mailbox.has(id)) expect(taken.has(id), `${id} was deleted without its commit`).toBe(true);
      console.info(`${c.name}: ${taken.size} of ${c.messages} committed before the disk was full (${(c.freeBytes / mib).toFixed(0)} MB free for ${(total / mib).toFixed(1)} MB of mail); error: ${report.accounts[0]!.error}`);

      // What the failed run stored without committing rows for (the database case: its whole first
      // group) is only an orphan, removed at the next start.
      const storedBefore: string[] = [];
      for await (const entry of new FsMessageStore(join(home, 'messages')).list()) storedBefore.push(entry.hash);
      if (c.name.includes('database')) expect(storedBefore.length, 'blobs committed in the store before the rows failed').toBeGreaterThan(0);

      // Space again: the next run takes the rest, normally.
      rmSync(filler);
      const rest = await runCli(['daemon', '--once', '--json'], { env, timeoutMs: 120_000 });
      expect(rest.code, `${rest.stdout}\n${rest.stderr}`).toBe(0);
      expect((JSON.parse(rest.stdout) as { accounts: Array<{ status: string }> }).accounts[0]!.status).toBe('ok');

      // Totals: every message exactly once, its bytes and attachments intact; the mailbox done with.
      const db = new BetterSqlite3(join(home, 'mailctl.db'), { readonly: true, fileMustExist: true });
      try {
        const rows = db.prepare(`SELECT id, message_id AS messageId, raw_hash AS rawHash, disposition FROM communications WHERE direction = 'inbound'`).all() as Array<{ id: number; messageId: string; rawHash: string; disposition: string }>;
        expect(rows.filter((r) => r.disposition !== 'record-created')).toEqual([]);
        expect(rows.map((r) => r.messageId).sort()).toEqual([...expected.keys()].sort());
        const store = new FsMessageStore(join(home, 'messages'));
        for (const r of rows) {
          const want = expected.get(r.messageId)!;
          expect(r.rawHash, r.messageId).toBe(want.sha256);
          expect(await hashOf(store, r.rawHash), r.messageId).toBe(want.sha256);
          const attachments = (db.prepare('SELECT sha256 FROM communication_attachments WHERE communication_id = ? ORDER BY position').all(r.id) as Array<{ sha256: string }>).map((a) => a.sha256);
          expect(attachments, r.messageId).toEqual(want.attachments);
          for (const hash of attachments) expect(await hashOf(store, hash), r.messageId).toBe(hash);
        }
        // The store holds what is referenced and nothing else (the failed run's leftovers were removed at start).
        const referenced = new Set([...rows.map((r) => r.rawHash), ...(db.prepare('SELECT sha256 FROM communication_attachments').all() as Array<{ sha256: string }>).map((a) => a.sha256)]);
        const stored: string[] = [];
        for await (const entry of store.list()) stored.push(entry.hash);
        expect(stored.sort()).toEqual([...referenced].sort());
        expect(existsSync(join(home, 'messages', 'tmp')) ? readdirSync(join(home, 'messages', 'tmp')) : []).toEqual([]);
      } finally {
        db.close();
      }
      const after = mailboxState(dovecot.maildir(c.user));
      if (c.after === 'delete') expect([...after.keys()]).toEqual([]);
      else expect([...after.values()].filter((s) => s !== 'seen')).toEqual([]);
    }, 300_000);
  }
});

/** Message-IDs of the inbound communications committed so far. */
function committedMessageIds(home: string): Set<string> {
  const db = new BetterSqlite3(join(home, 'mailctl.db'), { readonly: true, fileMustExist: true });
  try {
    return new Set((db.prepare(`SELECT message_id AS id FROM communications WHERE direction = 'inbound'`).all() as Array<{ id: string }>).map((r) => r.id));
  } finally {
    db.close();
  }
}

/** Each message still in the maildir INBOX, by Message-ID: read (S flag) or not. */
function mailboxState(maildir: string): Map<string, 'seen' | 'unseen'> {
  const state = new Map<string, 'seen' | 'unseen'>();
  for (const sub of ['new', 'cur']) {
    for (const name of readdirSync(join(maildir, sub))) {
      const id = /^Message-ID: <([^>]+)>/im.exec(readFileSync(join(maildir, sub, name)).subarray(0, 4096).toString('latin1'))?.[1];
      if (id) state.set(id, sub === 'cur' && /:2,[A-Z]*S/.test(name) ? 'seen' : 'unseen');
    }
  }
  return state;
}

async function hashOf(store: FsMessageStore, hash: string): Promise<string> {
  const digest = createHash('sha256');
  for await (const chunk of await store.open(hash)) digest.update(chunk as Buffer);
  return digest.digest('hex');
}
