import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { takeMessage } from '../../src/inbound/parse-message.js';
import { FsMessageStore } from '../../src/store/fs-message-store.js';
import { StoreFullError, type StoreBatch } from '../../src/store/message-store.js';
import { bigAttachmentMessage, inlineImageMessage } from '../helpers/rich-messages.js';
import { useTempDirs } from '../helpers/temp-dir.js';

/** What the end-to-end store tests (test/daemon/daemon-once-store.test.ts) found in takeMessage. */
describe('takeMessage, found by the end-to-end store tests', () => {
  const tempDir = useTempDirs();

  it('an HTML body beside an inline image (multipart/related, no text part) gets its text from the HTML', async () => {
    const m = inlineImageMessage('t1');
    const batch = new FsMessageStore(join(tempDir(), 'messages')).batch();
    const taken = await takeMessage(Readable.from([m.raw]), batch, { maxTextChars: 100_000 });
    await batch.discard();
    // mailparser alone leaves the text empty here, and the record note was empty with it.
    expect(taken.parsed!.text).toContain(m.says);
    expect(taken.parsed!.text).not.toContain('<p>');
    expect(taken.parsed!.html).toContain(`cid:logo-t1@partner.test`);
  });

  it('waiting for the store leaves no listeners behind (a 34 MB message, in 16 KB pieces)', async () => {
    const m = bigAttachmentMessage('t2');
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    try {
      const batch = new FsMessageStore(join(tempDir(), 'messages')).batch();
      const pieces = function* () {
        for (let i = 0; i < m.raw.length; i += 16 * 1024) yield m.raw.subarray(i, i + 16 * 1024);
      };
      const taken = await takeMessage(Readable.from(pieces()), batch, { maxTextChars: 100_000 });
      await batch.discard();
      expect(taken.raw.size).toBe(m.raw.length);
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    // Each wait for 'drain' used to leave a 'close' and an 'error' listener on the raw stream.
    expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([]);
  }, 60_000);

  it('a connection lost in the middle of an attachment is a SourceStreamError, not a wait forever', async () => {
    const m = bigAttachmentMessage('t3', 2 * 1024 * 1024);
    async function* cut() {
      for (let i = 0; i < 1024 * 1024; i += 16 * 1024) yield m.raw.subarray(i, i + 16 * 1024);
      throw new Error('connection reset');
    }
    const store = new FsMessageStore(join(tempDir(), 'messages'));
    const batch = store.batch();
    // The destroyed parser never ended the attachment's stream, so its put (and the message) waited forever.
    const outcome = await Promise.race([
      takeMessage(Readable.from(cut()), batch, { maxTextChars: 100_000 }).then(() => 'taken', (error: Error) => error.name),
      new Promise((resolve) => setTimeout(() => resolve('still waiting after 10 s'), 10_000)),
    ]);
    expect(outcome).toBe('SourceStreamError');
    await batch.commit();
    const stored: string[] = [];
    for await (const entry of store.list()) stored.push(entry.hash);
    expect(stored).toEqual([]);
  }, 30_000);

  /**
   * A store backend whose put `failing` (0: the raw copy, 1: the first attachment) reads
   * `afterBytes` of its content, stops reading, and fails a moment later as a full disk does —
   * and, unlike FsMessageStore, does not let go of the content: takeMessage must not rely on
   * every backend doing so.
   */
  function failingBatch(failing: number, afterBytes: number): { batch: StoreBatch; rawBytes: () => number } {
    let puts = 0;
    let rawBytes = 0;
    return {
      rawBytes: () => rawBytes,
      batch: {
        async put(content) {
          const index = puts++;
          let bytes = 0;
          const iterator = (content as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
          for (;;) {
            const next = await iterator.next();
            if (next.done) return { hash: '0'.repeat(64), size: bytes, storedSize: bytes };
            bytes += next.value.length;
            if (index === 0) rawBytes = bytes;
            if (index !== failing || bytes < afterBytes) continue;
            // The disk's answer comes later, as a file write's does: meanwhile the writer fills the
            // stream and waits for it to drain.
            await new Promise((resolve) => setTimeout(resolve, 100));
            throw new StoreFullError('/var/lib/mailctl/messages', Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' }));
          }
        },
        commit: async () => undefined,
        discard: async () => undefined,
      },
    };
  }

  it('a raw copy whose put fails part-way and stops reading fails the message with the store\'s error, not a wait forever', async () => {
    const m = bigAttachmentMessage('t4', 3 * 1024 * 1024);
    const { batch } = failingBatch(0, 512 * 1024);
    // The loop waited for the raw copy's stream to drain, and nothing read it any more (daemon --once exited 13).
    const outcome = await Promise.race([
      takeMessage(Readable.from(inPieces(m.raw)), batch, { maxTextChars: 100_000 }).then(() => 'taken', (error: { code?: string }) => error.code),
      new Promise((resolve) => setTimeout(() => resolve('still waiting after 10 s'), 10_000)),
    ]);
    expect(outcome).toBe('E_STORE_FULL');
  }, 30_000);

  it('an attachment that cannot be stored stops the storing of the rest of the message at once (read to its end, written nowhere)', async () => {
    const m = bigAttachmentMessage('t5', 6 * 1024 * 1024);
    const { batch, rawBytes } = failingBatch(1, 256 * 1024);
    const outcome = await Promise.race([
      takeMessage(Readable.from(inPieces(m.raw)), batch, { maxTextChars: 100_000 }).then(() => 'taken', (error: { code?: string }) => error.code),
      new Promise((resolve) => setTimeout(() => resolve('still waiting after 10 s'), 10_000)),
    ]);
    expect(outcome).toBe('E_STORE_FULL');
    // Before, the rest of the message (8 MB) was still written to the raw copy, into a disk known to be full.
    expect(rawBytes()).toBeLessThan(m.raw.length / 2);
  }, 30_000);
});

/** A message as a server hands it over: 64 KB at a time. */
function* inPieces(raw: Buffer): Generator<Buffer> {
  for (let i = 0; i < raw.length; i += 64 * 1024) yield raw.subarray(i, i + 64 * 1024);
}

describe('takeMessage with a store that starts reading late', () => {
  const tempDir = useTempDirs();

  it('an attached message (message/rfc822) is stored whole even when the put begins reading after a wait', async () => {
    const forwarded = `From: lee@partner.test\r\nTo: pat@acme.test\r\nSubject: The original\r\nMessage-ID: <orig-late@partner.test>\r\n\r\n${'The original text.\r\n'.repeat(2000)}`;
    const raw = Buffer.from(['From: pat@acme.test', 'To: contracts@acme.test', 'Subject: Fwd: The original', 'Message-ID: <fwd-late@acme.test>',
      'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b0"', '', '--b0', 'Content-Type: text/plain; charset=utf-8', '', 'See below.',
      '--b0', 'Content-Type: message/rfc822', '', forwarded, '--b0--', ''].join('\r\n'));
    const store = new FsMessageStore(join(tempDir(), 'messages'));
    const real = store.batch();
    // A real store whose puts begin reading 30 ms late (a slow disk making its folders): under
    // load the CI saw the attached message saved empty, because its 'data' listener had set it flowing.
    const late: StoreBatch = {
      ...real,
      put: async (content) => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        return real.put(content);
      },
    };
    const taken = await takeMessage(Readable.from([raw]), late, { maxTextChars: 100_000 });
    await real.commit();
    const [attached] = taken.parsed!.attachments;
    expect(attached!.contentType).toBe('message/rfc822');
    const chunks: Buffer[] = [];
    for await (const chunk of await store.open(attached!.sha256)) chunks.push(chunk as Buffer);
    const stored = Buffer.concat(chunks).toString('utf8');
    expect(stored).toContain('Subject: The original');
    expect(stored.split('The original text.').length - 1).toBe(2000);
    expect(taken.parsed!.embedded).toContain('Message-ID: <orig-late@partner.test>');
  });
});
