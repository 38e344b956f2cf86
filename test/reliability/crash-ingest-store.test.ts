import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chownSync, existsSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsMessageStore } from '../../src/store/fs-message-store.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { fakePdf } from '../helpers/rich-messages.js';
import { bySize, reliabilityTier } from '../helpers/reliability-tier.js';
import { binPath, runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

/**
 * Issue 13, "Done when" 2: kill -9 while the daemon takes messages with attachments into the
 * message store, round after round, then one regular run to the end. 0 lost (every message has
 * exactly one communication), 0 duplicated (a message committed but not yet marked done when
 * the kill came is recognised by its mailbox id, never recorded again as a 'duplicate'),
 * 0 orphans after the next start (the store holds exactly what communications refer to, and no
 * temporary file), every raw message and attachment intact.
 *
 * The kills come at four kinds of moment, in turn: the instant a group's rows are seen
 * committed (before the mailbox hears the messages are done), a few ms later (the next group's
 * content half-written), the instant the store starts renaming a group's files into place
 * (its content stored, its rows not committed: orphans), and a random time after start
 * (anywhere: the orphan sweep, the list, a put, a commit).
 */
const messages = bySize(500, 250);
const rounds = bySize(10, 4);

interface Case {
  name: string;
  user: string;
  protocol: 'imap' | 'pop3';
  after: 'mark-read' | 'delete';
}

const cases: Case[] = [
  { name: 'IMAP, marked read after the commit', user: 'scans@acme.test', protocol: 'imap', after: 'mark-read' },
  { name: 'POP3, deleted (at QUIT) after the commit', user: 'pop@acme.test', protocol: 'pop3', after: 'delete' },
];

interface Sent {
  messageId: string;
  sha256: string;
  /** SHA-256 of each attachment, in MIME order. */
  attachments: string[];
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const randomInt = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));
/** The same logo in every fifth message: one blob, shared by many communications (and by orphans). */
const logo = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(3000)]);

describe(`kill -9 during ingest with the message store (${reliabilityTier} tier: ${rounds} kills, ${messages} messages with attachments per mailbox)`, () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  const sent = new Map<string, Sent[]>();
  beforeAll(async () => {
    dovecot = await startDovecot({ users: cases.map((c) => ({ name: c.user, password: 'pw' })) });
    const owner = statSync(dovecot.maildir(cases[0]!.user));
    for (const c of cases) {
      const list: Sent[] = [];
      const maildir = dovecot.maildir(c.user);
      for (let i = 0; i < messages; i++) {
        const m = messageWithAttachments(c, i);
        // Straight into the maildir (as the helper's deliver does, without a process per message).
        const name = `${Date.now()}.M${i}P${process.pid}.crash-store`;
        const tmp = join(maildir, 'tmp', name);
        writeFileSync(tmp, m.raw);
        chownSync(tmp, owner.uid, owner.gid);
        renameSync(tmp, join(maildir, 'new', name));
        list.push({ messageId: m.messageId, sha256: sha256(m.raw), attachments: m.attachments });
      }
      sent.set(c.user, list);
    }
  }, 120_000);
  afterAll(() => dovecot?.stop());

  for (const c of cases) {
    it(`${c.name}: ${rounds} kills, then one regular run: none lost, none twice, no orphan, every byte intact`, async () => {
      const home = tempDir();
      const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
      const cli = async (args: string[], input?: string) => {
        const r = await runCli(args, { env, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
        expect(r.code, `mailctl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
        return r;
      };
      await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
      await cli(['tables', 'add', 'contracts']);
      await cli(['contacts', 'add', 'lee@partner.test', '--can-create', 'contracts']);
      await cli(['contacts', 'add', 'guest@acme.test', '--guest']);
      await cli(['configure', 'inbound', 'contracts', '--protocol', c.protocol, '--host', '127.0.0.1', '--port', String(c.protocol === 'imap' ? dovecot.imapPort : dovecot.pop3Port),
        '--security', 'none', '--auth', 'password', '--username', c.user, '--secret-stdin', ...(c.protocol === 'imap' ? ['--folder', 'INBOX'] : []),
        '--create-records', '--unknown-sender', 'guest', '--guest', 'guest@acme.test', '--notes', 'whole-body', '--after', c.after], 'pw');

      const dbPath = join(home, 'mailctl.db');
      const store = new FsMessageStore(join(home, 'messages'));
      const reader = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
      const committed = () => (reader.prepare("SELECT count(*) AS n FROM communications WHERE direction = 'inbound'").get() as { n: number }).n;
      /** What a kill left in the store: temporary files, and blobs no communication refers to. */
      const leftovers = async () => {
        const tmp = existsSync(join(home, 'messages', 'tmp')) ? readdirSync(join(home, 'messages', 'tmp')).length : 0;
        const referenced = referencedHashes(reader);
        let orphans = 0;
        for await (const entry of store.list()) if (!referenced.has(entry.hash)) orphans++;
        return { tmp, orphans };
      };
      const log: string[] = [];
      let leftBehind = 0;
      let orphansMade = 0;
      try {
        for (let round = 0; round < rounds; round++) {
          const kind = (['at a commit', 'just after a commit', 'between the store and the rows', 'at a random time'] as const)[round % 4]!;
          const before = committed();
          const child = spawn(process.execPath, [binPath, 'daemon', '--once'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
          const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
          let done: { code: number | null; signal: NodeJS.Signals | null } | undefined;
          void exited.then((r) => (done = r));
          if (kind === 'at a random time') {
            // A random time after start, but with work left: a fast machine takes the rest of the
            // mailbox in under 2 s, and a run that ends by itself is no kill. So the kill comes at
            // the random time or once this round has taken its share of what is left, if sooner.
            const until = Date.now() + randomInt(200, 2000);
            const share = before + Math.max(1, Math.floor((messages - before) / (rounds - round + 1)));
            while (!done && Date.now() < until && committed() < share) await sleep(5);
          } else if (kind === 'between the store and the rows') {
            // A group's content is put into messages/tmp (files named <pid>-…), then renamed into
            // place at its commit: the first of this process's files to leave tmp (while no new row
            // is committed) is that moment.
            const tmpDir = join(home, 'messages', 'tmp');
            const mine = `${child.pid}-`;
            const deadline = Date.now() + 60_000;
            let most = 0;
            for (;;) {
              if (done || Date.now() > deadline) throw new Error(`round ${round}: no store commit seen in 60 s\n${log.join('\n')}`);
              const now = existsSync(tmpDir) ? readdirSync(tmpDir).filter((name) => name.startsWith(mine)).length : 0;
              if (now < most && committed() === before) break;
              most = Math.max(most, now);
              await new Promise((r) => setImmediate(r));
            }
          } else {
            const deadline = Date.now() + 60_000;
            while (!done && committed() === before) {
              if (Date.now() > deadline) {
                child.kill('SIGKILL');
                throw new Error(`round ${round}: nothing committed in 60 s\n${log.join('\n')}`);
              }
              await new Promise((r) => setImmediate(r));
            }
            if (kind === 'just after a commit') await sleep(randomInt(2, 40));
          }
          if (!done) child.kill('SIGKILL');
          const result = await exited;
          const after = committed();
          const left = await leftovers();
          leftBehind += left.tmp + left.orphans;
          orphansMade += left.orphans;
          log.push(`round ${round} (killed ${kind}): ${before} → ${after} committed; left ${left.tmp} temporary file(s), ${left.orphans} orphan blob(s); ${result.signal ?? `exit ${result.code}`}`);
          // Every round dies by the kill, with work left: a kill in the middle of the ingest.
          expect(result.signal, log.join('\n')).toBe('SIGKILL');
          expect(after, log.join('\n')).toBeLessThan(messages);
        }
      } finally {
        reader.close();
      }
      // The kills did leave half-done work behind, blobs without rows among it (so "no orphan"
      // below means removed, not never made).
      expect(leftBehind, log.join('\n')).toBeGreaterThan(0);
      expect(orphansMade, log.join('\n')).toBeGreaterThan(0);

      // A regular run (no forced sweep: a message marked read without its commit would stay lost), then the next start.
      const finish = await runCli(['daemon', '--once', '--json'], { env, timeoutMs: 300_000 });
      expect(finish.code, `${finish.stdout}\n${finish.stderr}`).toBe(0);
      expect((JSON.parse(finish.stdout) as { accounts: Array<{ status: string }> }).accounts[0]!.status).toBe('ok');
      const next = await runCli(['daemon', '--once', '--json'], { env, timeoutMs: 60_000 });
      expect(next.code, `${next.stdout}\n${next.stderr}`).toBe(0);
      expect((JSON.parse(next.stdout) as { accounts: Array<{ poll: { processed: number } }> }).accounts[0]!.poll.processed).toBe(0);

      const db = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
      try {
        const rows = db.prepare(`SELECT id, message_id AS messageId, raw_hash AS rawHash, disposition, duplicate_of AS duplicateOf,
          (SELECT count(*) FROM record_notes WHERE communication_id = c.id) AS notes FROM communications c WHERE direction = 'inbound'`).all() as Array<{ id: number; messageId: string; rawHash: string; disposition: string; duplicateOf: number | null; notes: number }>;
        const expected = sent.get(c.user)!;
        const byId = new Map<string, typeof rows>();
        for (const r of rows) byId.set(r.messageId, [...(byId.get(r.messageId) ?? []), r]);
        // 0 lost, 0 duplicated: exactly one communication per message, and no 'duplicate' row at all.
        expect(expected.filter((m) => !byId.has(m.messageId)).map((m) => m.messageId), log.join('\n')).toEqual([]);
        expect([...byId].filter(([, list]) => list.length > 1).map(([id, list]) => `${id}: ${list.map((r) => r.disposition).join(', ')}`), log.join('\n')).toEqual([]);
        expect(rows).toHaveLength(messages);
        expect(rows.filter((r) => r.disposition === 'duplicate' || r.duplicateOf !== null || r.disposition === 'quarantined')).toEqual([]);
        expect(rows.filter((r) => r.notes !== 1).map((r) => r.messageId)).toEqual([]);
        expect((db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n).toBe(messages);

        // Every byte intact: the raw message and each attachment, read back through the store's hash check.
        const attachmentsOf = db.prepare('SELECT sha256, size FROM communication_attachments WHERE communication_id = ? ORDER BY position');
        for (const m of expected) {
          const row = byId.get(m.messageId)![0]!;
          expect(row.rawHash, m.messageId).toBe(m.sha256);
          expect(await hashOf(store, row.rawHash), m.messageId).toBe(m.sha256);
          const attachments = attachmentsOf.all(row.id) as Array<{ sha256: string }>;
          expect(attachments.map((a) => a.sha256), m.messageId).toEqual(m.attachments);
          for (const a of attachments) expect(await hashOf(store, a.sha256), m.messageId).toBe(a.sha256);
        }

        // 0 orphans after the next start: the store holds what is referenced, nothing else, and no temporary file.
        const referenced = referencedHashes(db);
        const stored: string[] = [];
        for await (const entry of store.list()) stored.push(entry.hash);
        expect(stored.filter((h) => !referenced.has(h)), log.join('\n')).toEqual([]);
        expect(stored.sort()).toEqual([...referenced].sort());
        expect(existsSync(join(home, 'messages', 'tmp')) ? readdirSync(join(home, 'messages', 'tmp')) : []).toEqual([]);
      } finally {
        db.close();
      }

      // And the mailbox is done with: every message read (IMAP) or deleted (POP3).
      const maildir = dovecot.maildir(c.user);
      const files = (sub: string) => readdirSync(join(maildir, sub));
      if (c.after === 'delete') expect([...files('new'), ...files('cur')]).toEqual([]);
      else {
        expect(files('new')).toEqual([]);
        expect(files('cur').filter((f) => !/:2,[A-Z]*S/.test(f))).toEqual([]);
      }
      console.info(`${c.name}:\n  ${log.join('\n  ')}`);
    }, bySize(1_200_000, 240_000));
  }
});

/** Every hash a communication's content refers to: raw messages and attachments. */
function referencedHashes(db: BetterSqlite3.Database): Set<string> {
  const raw = db.prepare('SELECT raw_hash AS h FROM communications WHERE raw_hash IS NOT NULL').all() as Array<{ h: string }>;
  const attached = db.prepare('SELECT sha256 AS h FROM communication_attachments').all() as Array<{ h: string }>;
  return new Set([...raw, ...attached].map((r) => r.h));
}

async function hashOf(store: FsMessageStore, hash: string): Promise<string> {
  const digest = createHash('sha256');
  for await (const chunk of await store.open(hash)) digest.update(chunk as Buffer);
  return digest.digest('hex');
}

/**
 * Message i: a PDF of 4-40 KB, every fifth the shared logo inline (multipart/related), every
 * seventh a second PDF. From the contact (a third) or a stranger (a guest record).
 */
function messageWithAttachments(c: Case, i: number): { messageId: string; raw: Buffer; attachments: string[] } {
  const messageId = `crash-store-${c.protocol}-${i}@partner.test`;
  const pdf = fakePdf(randomInt(4, 40) * 1024);
  const second = i % 7 === 3 ? fakePdf(randomInt(2, 12) * 1024) : null;
  const b64 = (data: Buffer) => data.toString('base64').replace(/.{76}/g, '$&\r\n');
  const body = i % 5 === 0
    ? ['--mix', 'Content-Type: multipart/related; boundary="rel"', '', '--rel', 'Content-Type: text/html; charset=utf-8', '', `<p>Contract ${i}, with our logo</p><img src="cid:logo@partner.test">`,
      '--rel', 'Content-Type: image/png', 'Content-Transfer-Encoding: base64', 'Content-ID: <logo@partner.test>', 'Content-Disposition: inline; filename="logo.png"', '', b64(logo), '--rel--']
    : ['--mix', 'Content-Type: text/plain; charset=utf-8', '', `Contract ${i} attached.`];
  const raw = [
    `From: ${i % 3 === 0 ? 'lee@partner.test' : `stranger${i}@elsewhere.test`}`, 'To: contracts@acme.test', `Subject: Contract ${i}`, `Message-ID: <${messageId}>`,
    'Date: Fri, 27 Nov 2026 10:00:00 +0000', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="mix"', '',
    ...body,
    '--mix', 'Content-Type: application/pdf', 'Content-Transfer-Encoding: base64', `Content-Disposition: attachment; filename="contract-${i}.pdf"`, '', b64(pdf),
    ...(second ? ['--mix', 'Content-Type: application/pdf', 'Content-Transfer-Encoding: base64', `Content-Disposition: attachment; filename="annex-${i}.pdf"`, '', b64(second)] : []),
    '--mix--', '',
  ].join('\r\n');
  return { messageId, raw: Buffer.from(raw), attachments: [...(i % 5 === 0 ? [sha256(logo)] : []), sha256(pdf), ...(second ? [sha256(second)] : [])] };
}
