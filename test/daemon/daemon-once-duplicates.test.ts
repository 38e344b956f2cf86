import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsMessageStore } from '../../src/store/fs-message-store.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

/**
 * Issue 13, "Done when" 3: one communication per message taken, always. A different message
 * that reuses a Message-ID is a message of its own (its own record); a true duplicate — the same
 * bytes again, or the same Message-ID, sender, subject and body under other Received lines — gets
 * a 'duplicate' row pointing at the first and changes no record; a message mailparser refuses is
 * quarantined with its exact bytes kept in the store.
 */
const user = 'contracts@acme.test';
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

function message(opts: { messageId: string; subject: string; body: string; received?: string }): Buffer {
  return Buffer.from([
    ...(opts.received ? [`Received: ${opts.received}`] : []),
    'From: Lee Partner <lee@partner.test>', `To: ${user}`, `Subject: ${opts.subject}`, `Message-ID: <${opts.messageId}>`,
    'Date: Fri, 27 Nov 2026 10:00:00 +0000', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', opts.body, '',
  ].join('\r\n'));
}

// Two shapes mailparser refuses (tried against it: most hostile shapes parse, these do not).
/** A header section over mailparser's 1 MB limit: "Max header size for a MIME node exceeded". */
const oversizedHeader = Buffer.from(`From: lee@partner.test\r\nTo: ${user}\r\nMessage-ID: <huge-header@partner.test>\r\nSubject: ${'x'.repeat(1_100_000)}\r\n\r\nbody\r\n`);
/** 20,000 MIME parts: "Max allowed child nodes exceeded". */
const tooManyParts = Buffer.from([
  'From: lee@partner.test', `To: ${user}`, 'Subject: many parts', 'Message-ID: <many-parts@partner.test>', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"', '',
  ...Array.from({ length: 20_000 }, (_, i) => `--b\r\nContent-Type: text/plain\r\n\r\npart ${i}`), '--b--', '',
].join('\r\n'));

const m = {
  invoice: message({ messageId: 'reused-17@partner.test', subject: 'Invoice 17', body: 'Amount due: 1,200 EUR.' }),
  // Another message under the same Message-ID (a ticket tool that reuses it): not a duplicate.
  deliveryNote: message({ messageId: 'reused-17@partner.test', subject: 'Delivery note 17', body: 'Delivered: 40 chairs.' }),
  order: message({ messageId: 'order-5@partner.test', subject: 'Order 5', body: 'Please confirm order 5.' }),
  quote: message({ messageId: 'quote-9@partner.test', subject: 'Quote 9', body: 'Our quote 9.', received: 'from mx1.partner.test by mx.acme.test; Fri, 27 Nov 2026 10:00:01 +0000' }),
  // The same message through another relay: other bytes, the same message.
  quoteAgain: message({ messageId: 'quote-9@partner.test', subject: 'Quote 9', body: 'Our quote 9.', received: 'from mx2.partner.test by mx.acme.test; Fri, 27 Nov 2026 10:05:09 +0000' }),
};

interface Row {
  id: number;
  messageId: string | null;
  subject: string;
  disposition: string;
  reason: string;
  recordId: number | null;
  duplicateOf: number | null;
  rawHash: string;
  size: number;
}

describe('one communication per message taken: reused Message-IDs, true duplicates, unparseable mail (real Dovecot)', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: user, password: 'pw' }] });
  });
  afterAll(() => dovecot?.stop());

  it('a reused Message-ID makes its own record; a true duplicate a duplicate row and no record; unparseable mail is quarantined with its bytes', async () => {
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
    await cli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none', '--auth', 'password',
      '--username', user, '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore', '--notes', 'whole-body', '--after', 'mark-read'], 'pw');

    // One poll: both copies of a duplicate land in the same group (one transaction).
    for (const raw of [m.invoice, m.deliveryNote, m.order, m.order, m.quote, m.quoteAgain, oversizedHeader, tooManyParts]) dovecot.deliver(user, raw);
    const first = JSON.parse((await cli(['daemon', '--once', '--json'])).stdout);
    expect(first.accounts[0]).toMatchObject({ status: 'ok', poll: { listed: 8, processed: 8, dispositions: { 'record-created': 4, duplicate: 2, quarantined: 2 } } });
    // A later poll: the order a third time, after the first copy was committed and marked read.
    dovecot.deliver(user, m.order);
    const second = JSON.parse((await cli(['daemon', '--once', '--json'])).stdout);
    expect(second.accounts[0]).toMatchObject({ status: 'ok', poll: { listed: 1, processed: 1, dispositions: { duplicate: 1 } } });

    const db = new BetterSqlite3(join(home, 'mailctl.db'), { readonly: true, fileMustExist: true });
    const store = new FsMessageStore(join(home, 'messages'));
    try {
      const rows = db.prepare(`SELECT id, message_id AS messageId, subject, disposition, reason, record_id AS recordId, duplicate_of AS duplicateOf, raw_hash AS rawHash, size_bytes AS size
        FROM communications WHERE direction = 'inbound' ORDER BY id`).all() as Row[];
      const notesOf = (id: number) => (db.prepare('SELECT count(*) AS n FROM record_notes WHERE communication_id = ?').get(id) as { n: number }).n;
      // One communication per message taken: 9 deliveries, 9 rows, each with its own bytes in the store.
      expect(rows).toHaveLength(9);
      const delivered = [m.invoice, m.deliveryNote, m.order, m.order, m.quote, m.quoteAgain, oversizedHeader, tooManyParts, m.order];
      for (const [i, row] of rows.entries()) {
        expect(row.rawHash, `row ${i + 1}`).toBe(sha256(delivered[i]!));
        expect(row.size, `row ${i + 1}`).toBe(delivered[i]!.length);
        expect(await readAll(store, row.rawHash), `row ${i + 1}`).toEqual(delivered[i]);
      }
      const [invoice, deliveryNote, order, orderAgain, quote, quoteAgain, huge, many, orderLater] = rows as [Row, Row, Row, Row, Row, Row, Row, Row, Row];

      // A different message under a reused Message-ID: a record of its own.
      expect(invoice).toMatchObject({ messageId: 'reused-17@partner.test', disposition: 'record-created', duplicateOf: null });
      expect(deliveryNote).toMatchObject({ messageId: 'reused-17@partner.test', disposition: 'record-created', duplicateOf: null });
      expect(deliveryNote.recordId).not.toBe(invoice.recordId);
      const titles = (db.prepare('SELECT title FROM records ORDER BY id').all() as Array<{ title: string }>).map((r) => r.title);
      expect(titles).toEqual(['Invoice 17', 'Delivery note 17', 'Order 5', 'Quote 9']);

      // True duplicates: a row pointing at the first, the first's record named, no record changed.
      expect(order.disposition).toBe('record-created');
      for (const copy of [orderAgain, orderLater]) {
        expect(copy).toMatchObject({ disposition: 'duplicate', duplicateOf: order.id, recordId: order.recordId, rawHash: order.rawHash });
        expect(copy.reason).toContain(`a duplicate of communication ${order.id} (the same bytes)`);
        expect(notesOf(copy.id)).toBe(0);
      }
      expect(quote.disposition).toBe('record-created');
      expect(quoteAgain).toMatchObject({ disposition: 'duplicate', duplicateOf: quote.id, recordId: quote.recordId });
      expect(quoteAgain.rawHash).not.toBe(quote.rawHash); // its own bytes, kept as received
      expect(quoteAgain.reason).toContain(`a duplicate of communication ${quote.id} (the same Message-ID, sender, subject and body)`);
      expect(notesOf(quoteAgain.id)).toBe(0);
      for (const r of [invoice, deliveryNote, order, quote]) expect(notesOf(r.id), r.subject).toBe(1);
      expect((db.prepare('SELECT count(*) AS n FROM record_notes').get() as { n: number }).n).toBe(4);

      // Unparseable: quarantined, the reason says why, the raw bytes kept (checked above) with the header block.
      expect(huge).toMatchObject({ disposition: 'quarantined', recordId: null });
      expect(huge.reason).toBe('the message could not be parsed: Max header size for a MIME node exceeded');
      expect(many).toMatchObject({ disposition: 'quarantined', recordId: null });
      expect(many.reason).toBe('the message could not be parsed: Max allowed child nodes exceeded');
      const headersOf = (id: number) => (db.prepare('SELECT headers FROM communication_content WHERE communication_id = ?').get(id) as { headers: string }).headers;
      expect(headersOf(many.id)).toContain('Message-ID: <many-parts@partner.test>');
      expect(headersOf(huge.id).length).toBeLessThanOrEqual(1024 * 1024);
      // An admin finds them by sender, subject and Message-ID, as far as their header blocks say.
      const whoOf = (id: number) => db.prepare('SELECT from_addr AS "from", subject, message_id AS messageId FROM communications WHERE id = ?').get(id);
      expect(whoOf(many.id)).toEqual({ from: 'lee@partner.test', subject: 'many parts', messageId: 'many-parts@partner.test' });
      expect(whoOf(huge.id)).toMatchObject({ from: 'lee@partner.test', messageId: 'huge-header@partner.test' });
    } finally {
      db.close();
    }

    // Every message taken was marked read, the quarantined and the duplicates too: each has its row.
    const maildir = dovecot.maildir(user);
    expect(readdirSync(join(maildir, 'new'))).toEqual([]);
    expect(readdirSync(join(maildir, 'cur')).filter((f) => !/:2,[A-Z]*S/.test(f))).toEqual([]);
  });
});

async function readAll(store: FsMessageStore, hash: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.open(hash)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
