import { afterEach, describe, expect, it } from 'vitest';
import { commitReserved } from '../../../src/store/store-reservations.js';
import { runCliMeasured } from '../../helpers/peak-rss.js';
import { bySize, reliabilityTier } from '../../helpers/reliability-tier.js';
import { startSmtpSink } from '../../helpers/smtp-sink.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { attachment, attachmentOf, boundBytes, mb, queueKb, sha256 } from './queue-memory-fixture.js';

/**
 * Issue #14, item 7: `daemon --once` sending 60 messages with a 10 MB attachment each peaked at
 * 1.9 GB. Messages are built into the store and sent from it as streams.
 */
const drained = bySize(60, 16);

describe(`the drain streams attachments (${reliabilityTier} tier: ${drained} messages, 10 MB each)`, () => {
  const tempDir = useTempDirs();
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it(`daemon --once sends ${drained} messages with a 10 MB attachment each, streamed: the child's peak RSS stays under ${boundBytes / mb} MB`, async () => {
    const sink = await startSmtpSink({});
    cleanup.push(() => sink.close());
    const { env, record, db, store, queue } = await queueKb(tempDir(), sink, cleanup);
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

});
