import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { takeMessage } from '../../src/inbound/parse-message.js';
import { FsMessageStore } from '../../src/store/fs-message-store.js';
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
});
