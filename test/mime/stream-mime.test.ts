import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildMime, mimeLayout, streamMime } from '../../src/mime/build-mime.js';

/** The random MIME boundaries made the same, so two builds of one message compare byte for byte. */
const sameBoundaries = (raw: Buffer) => raw.toString('latin1').replace(/_mailctl_[0-9a-f]{24}/g, '_mailctl_B');

async function streamed(parts: Parameters<typeof buildMime>[0], pieceBytes: number): Promise<Buffer> {
  const attachments = (parts.attachments ?? []).map((a) => ({
    filename: a.filename,
    contentType: a.contentType,
    // The bytes in uneven pieces, as a store stream hands them over.
    open: async () => Readable.from(Array.from({ length: Math.ceil(a.content.length / pieceBytes) }, (_, i) => a.content.subarray(i * pieceBytes, (i + 1) * pieceBytes))),
  }));
  const streamedParts = { ...parts, attachments };
  const chunks: Buffer[] = [];
  for await (const chunk of streamMime(mimeLayout(streamedParts), streamedParts)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe('streamMime: the message buildMime builds, with attachments read as streams', () => {
  const date = new Date('2026-11-27T10:00:00Z');
  const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) % 256));

  it.each([1, 7, 57, 1000, 65_536])('byte for byte the same, whatever the pieces the attachments arrive in (%i bytes)', async (piece) => {
    const parts = {
      from: 'Zoë <records@acme.test>', to: ['pat@acme.test'], subject: 'Scans — Übersicht', date, messageId: 'mc.s@records.acme.test', text: 'Two scans\nand an empty file.', html: '<p>Two scans</p>',
      attachments: [{ filename: 'a.pdf', content: bytes(200_003, 1) }, { filename: 'empty.txt', content: Buffer.alloc(0) }, { filename: 'Müller.bin', content: bytes(57 * 3, 2), contentType: 'application/octet-stream' }],
    };
    expect(sameBoundaries(await streamed(parts, piece))).toBe(sameBoundaries(buildMime(parts)));
  });

  it('a message without attachments is one piece, the same as buildMime', async () => {
    const parts = { from: 'records@acme.test', to: ['pat@acme.test'], subject: 'Hi', date, messageId: 'mc.t@records.acme.test', text: 'Hello' };
    expect(mimeLayout(parts)).toHaveLength(1);
    expect((await streamed(parts, 10)).equals(buildMime(parts))).toBe(true);
  });
});
