import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { resolvePaths } from '../../../src/config/paths.js';
import { openDatabase } from '../../../src/store/database.js';
import { FsMessageStore } from '../../../src/store/fs-message-store.js';
import { QueueRepo } from '../../../src/store/queue-repo.js';
import { commitReserved } from '../../../src/store/store-reservations.js';
import { runCliMeasured } from '../../helpers/peak-rss.js';
import { bySize, reliabilityTier } from '../../helpers/reliability-tier.js';
import { startSmtpSink, type SmtpSink } from '../../helpers/smtp-sink.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { cliJson } from '../outage-daemon.js';

/**
 * Issue #14, item 7: the queue loads every attachment. `queue list` over 200 sent messages
 * with a 10 MB attachment each died at 4.2 GB; `daemon --once` sending 60 of them peaked at
 * 1.9 GB. Queue rows hold no attachment bytes, listing never reads them, the drain streams.
 */
const attachmentBytes = 10_000_000;
const drained = bySize(60, 16);
const listed = bySize(200, 30);
const mb = 1024 * 1024;
/** Peak RSS allowed for the child (node itself and the CLI's modules are about 60 MB of it). */
const boundBytes = bySize(300, 200) * mb;
/**
 * The one-time move of inline attachments into the store: one at a time, but each arrives from
 * SQLite as a 13 MB base64 value, and the garbage collector lets a few of them pile up.
 */
const moveBoundBytes = 300 * mb;

/**
 * A 10 MB attachment of its own for message `i`: a random 16 KB block repeated (gzip takes it
 * fast, so the test spends its time on mailctl, not on compression), headed by its number so
 * no two are the same blob.
 */
const block = randomBytes(16 * 1024);
function attachment(i: number): Buffer {
  const bytes = Buffer.alloc(attachmentBytes);
  for (let at = 0; at < bytes.length; at += block.length) block.copy(bytes, at);
  bytes.write(`attachment ${i} of the queue-memory test\n`, 0);
  return bytes;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** The first attachment part of a message built by mailctl, decoded. */
function attachmentOf(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  const part = text.indexOf('Content-Disposition: attachment');
  const start = text.indexOf('\r\n\r\n', part) + 4;
  const end = text.indexOf('\r\n--', start);
  return Buffer.from(text.slice(start, end).replace(/\r\n/g, ''), 'base64');
}

describe(`the queue and attachments (${reliabilityTier} tier: ${drained} drained, ${listed} listed, 10 MB each)`, () => {
  const tempDir = useTempDirs();
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function kb(sink: SmtpSink) {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await cliJson(env, ['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await cliJson(env, ['tables', 'add', 'contracts']);
    const record = (await cliJson(env, ['records', 'add', '--table', 'contracts', '--title', 'MSA'])).record as { id: number };
    await cliJson(env, ['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'none', '--from', 'records@acme.test']);
    const paths = resolvePaths(env);
    const db = await openDatabase(paths.databasePath);
    cleanup.push(() => db.close());
    return { env, record, db, store: new FsMessageStore(paths.messageStoreDir), queue: new QueueRepo(db, { now: () => new Date() }) };
  }

  it(`daemon --once sends ${drained} messages with a 10 MB attachment each, streamed: the child's peak RSS stays under ${boundBytes / mb} MB`, async () => {
    const sink = await startSmtpSink({});
    cleanup.push(() => sink.close());
    const { env, record, db, store, queue } = await kb(sink);
    // Queued as `mailctl send --attach` queues them: the attachment in the message store, the row
    // naming it by hash (send itself is limited by max_attachment_size, one message at a time).
    const hashes: string[] = [];
    for (let i = 0; i < drained; i++) {
      const batch = store.batch();
      const blob = await batch.put(attachment(i));
      const { release } = await commitReserved(db, batch);
      queue.enqueue({ table: 'contracts', recordId: record.id, ruleId: null, from: 'records@acme.test', to: [`pat${i}@acme.test`], subject: `Scan ${i}`, body: `The scan, ${i}.`,
        attachments: [{ filename: `scan-${i}.pdf`, contentType: 'application/pdf', sha256: blob.hash, size: blob.size }], contentHash: blob.hash, status: 'queued' });
      release();
      hashes.push(blob.hash);
    }
    expect((db.prepare('SELECT max(length(attachments_json)) AS n FROM outbound_queue').get() as { n: number }).n).toBeLessThan(500);

    const run = await runCliMeasured(['daemon', '--once', '--json'], { env, killAboveBytes: 2 * boundBytes, timeoutMs: bySize(600_000, 120_000) });
    expect(run.killed, `killed at ${Math.round(run.peakBytes / mb)} MB\n${run.stderr.slice(-2000)}`).toBe(false);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).outbound).toMatchObject({ claimed: drained, sent: drained });
    expect(run.peakBytes, `peak RSS ${Math.round(run.peakBytes / mb)} MB`).toBeLessThan(boundBytes);
    // What went out is what was queued.
    expect(sink.messages).toHaveLength(drained);
    for (const m of [sink.messages[0]!, sink.messages.at(-1)!]) {
      const i = Number(/^pat(\d+)@/.exec(m.to[0]!)![1]);
      expect(sha256(attachmentOf(m.raw))).toBe(hashes[i]);
    }
  }, bySize(900_000, 90_000));

  it(`queue list over ${listed} sent messages whose 10 MB attachments are still inline (queued before the message store) never reads them; the daemon moves them into the store`, async () => {
    const sink = await startSmtpSink({});
    cleanup.push(() => sink.close());
    const { env, record, db } = await kb(sink);
    // Rows as mailctl wrote them before the message store: the bytes base64 in the attachments JSON.
    const now = new Date().toISOString();
    const insertComm = db.prepare(`INSERT INTO communications (direction, table_name, record_id, from_addr, to_addrs, subject, disposition, created_at) VALUES ('outbound', 'contracts', ?, 'records@acme.test', ?, ?, ?, ?)`);
    const insertRow = db.prepare(`INSERT INTO outbound_queue (communication_id, status, table_name, record_id, from_addr, to_addrs, subject, body, attachments_json, content_hash, attempts, next_attempt_at, created_at, updated_at)
      VALUES (?, ?, 'contracts', ?, 'records@acme.test', ?, ?, 'The scan.', ?, ?, ?, ?, ?, ?)`);
    const hashes: string[] = [];
    for (let i = 0; i < listed; i++) {
      const bytes = attachment(i);
      hashes.push(sha256(bytes));
      // The last one is still waiting: the daemon sends it, from the store.
      const status = i === listed - 1 ? 'queued' : 'sent';
      const comm = insertComm.run(record.id, `pat${i}@acme.test`, `Scan ${i}`, status, now).lastInsertRowid;
      insertRow.run(comm, status, record.id, `pat${i}@acme.test`, `Scan ${i}`, JSON.stringify([{ filename: `scan-${i}.pdf`, contentType: 'application/pdf', content: bytes.toString('base64') }]),
        hashes[i], status === 'sent' ? 1 : 0, now, now, now);
    }

    const list = await runCliMeasured(['queue', 'list', '--json'], { env, killAboveBytes: 2 * boundBytes, timeoutMs: 120_000 });
    expect(list.killed, `killed at ${Math.round(list.peakBytes / mb)} MB`).toBe(false);
    expect(list.code, list.stderr).toBe(0);
    expect(list.peakBytes, `peak RSS ${Math.round(list.peakBytes / mb)} MB`).toBeLessThan(boundBytes);
    const listing = JSON.parse(list.stdout) as { counts: Record<string, number>; entries: Array<{ id: number; attachments: string[] }> };
    expect(listing.counts).toEqual({ sent: listed - 1, queued: 1 });
    expect(listing.entries).toHaveLength(Math.min(listed, 200));
    expect(listing.entries[0]!.attachments).toEqual([`scan-${listed - 1}.pdf`]);
    expect(list.stdout).not.toContain('"content"');

    // The daemon moves the bytes into the message store (each listed on its communication) and
    // sends the waiting one from there.
    const once = await runCliMeasured(['daemon', '--once', '--json'], { env, killAboveBytes: 2 * moveBoundBytes, timeoutMs: bySize(600_000, 120_000) });
    expect(once.killed, `killed at ${Math.round(once.peakBytes / mb)} MB`).toBe(false);
    expect(once.code, once.stderr).toBe(0);
    expect(once.peakBytes, `peak RSS ${Math.round(once.peakBytes / mb)} MB`).toBeLessThan(moveBoundBytes);
    expect((db.prepare(`SELECT count(*) AS n FROM outbound_queue WHERE attachments_json LIKE '%"content"%'`).get() as { n: number }).n).toBe(0);
    const stored = db.prepare('SELECT sha256, size FROM communication_attachments ORDER BY communication_id').all() as Array<{ sha256: string; size: number }>;
    expect(stored.map((a) => a.sha256)).toEqual(hashes);
    expect(stored.every((a) => a.size === attachmentBytes)).toBe(true);
    expect(sink.messages).toHaveLength(1);
    expect(sha256(attachmentOf(sink.messages[0]!.raw))).toBe(hashes[listed - 1]);

    const again = await runCliMeasured(['queue', 'show', '1', '--json'], { env, killAboveBytes: 2 * boundBytes, timeoutMs: 60_000 });
    expect(JSON.parse(again.stdout).entry.attachments).toEqual(['scan-0.pdf']);
  }, bySize(900_000, 90_000));
});
