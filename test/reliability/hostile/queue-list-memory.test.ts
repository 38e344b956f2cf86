import { afterEach, describe, expect, it } from 'vitest';
import { runCliMeasured } from '../../helpers/peak-rss.js';
import { bySize, reliabilityTier } from '../../helpers/reliability-tier.js';
import { startSmtpSink } from '../../helpers/smtp-sink.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { attachment, attachmentBytes, attachmentOf, boundBytes, mb, queueKb, sha256 } from './queue-memory-fixture.js';

/**
 * Issue #14, item 7: `queue list` over 200 sent messages with a 10 MB attachment each died out of
 * memory at 4.2 GB: rows queued before the message store carry their attachments inline. Listing
 * reads names only; the daemon moves the bytes into the store.
 */
const listed = bySize(200, 20);
/**
 * The one-time move of inline attachments into the store: one at a time, but each arrives from
 * SQLite as a 13 MB base64 value, and the garbage collector lets a few of them pile up.
 */
const moveBoundBytes = 300 * mb;

describe(`queue list never reads attachment bytes (${reliabilityTier} tier: ${listed} rows, 10 MB each)`, () => {
  const tempDir = useTempDirs();
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it(`queue list over ${listed} sent messages whose 10 MB attachments are still inline (queued before the message store) never reads them; the daemon moves them into the store`, async () => {
    const sink = await startSmtpSink({});
    cleanup.push(() => sink.close());
    const { env, record, db } = await queueKb(tempDir(), sink, cleanup);
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
