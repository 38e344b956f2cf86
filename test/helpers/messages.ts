import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';

/** A plain RFC 5322 message. */
export function simpleMessage(opts: { from?: string; to?: string; subject?: string; body?: string; messageId?: string; headers?: string } = {}): string {
  return [
    `From: ${opts.from ?? 'pat@acme.test'}`,
    `To: ${opts.to ?? 'contracts@acme.test'}`,
    `Subject: ${opts.subject ?? 'Hello'}`,
    `Message-ID: <${opts.messageId ?? `${randomBytes(6).toString('hex')}@acme.test`}>`,
    'Date: Fri, 27 Nov 2026 10:00:00 +0000',
    'MIME-Version: 1.0',
    ...(opts.headers ? [opts.headers] : []),
    'Content-Type: text/plain; charset=utf-8',
    '',
    opts.body ?? 'Hello there.',
    '',
  ].join('\r\n');
}

/** A message with a base64 attachment of about `bytes` bytes (random, so it cannot compress). */
export function largeMessage(bytes: number): Buffer {
  const payload = randomBytes(Math.ceil((bytes * 3) / 4)).toString('base64').replace(/.{76}/g, '$&\r\n');
  const head = [
    'From: pat@acme.test', 'To: contracts@acme.test', 'Subject: big attachment', `Message-ID: <big-${randomBytes(4).toString('hex')}@acme.test>`,
    'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b1"', '', '--b1', 'Content-Type: text/plain', '', 'See attached.', '--b1',
    'Content-Type: application/octet-stream', 'Content-Transfer-Encoding: base64', 'Content-Disposition: attachment; filename="big.bin"', '', '',
  ].join('\r\n');
  return Buffer.concat([Buffer.from(head), Buffer.from(payload), Buffer.from('\r\n--b1--\r\n')]);
}

/**
 * Opens a stream and reads it through SHA-256, tracking how much memory grows from
 * before the open (so a source that buffers the whole message in open() is caught too).
 */
export async function digestStream(open: Readable | (() => Promise<Readable>)): Promise<{ sha256: string; bytes: number; chunks: number; peakExtraBytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  let chunks = 0;
  // Live memory, not garbage waiting for a collection (vitest runs with --expose-gc).
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
  gc();
  const base = process.memoryUsage();
  const stream = typeof open === 'function' ? await open() : open;
  const baseline = base.arrayBuffers + base.heapUsed;
  let peak = 0;
  let nextSample = 1024 * 1024;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
    chunks++;
    if (bytes >= nextSample) {
      nextSample += 1024 * 1024; // one sample per MB, whatever the chunk size
      gc();
      const m = process.memoryUsage();
      peak = Math.max(peak, m.arrayBuffers + m.heapUsed - baseline);
    }
  }
  return { sha256: hash.digest('hex'), bytes, chunks, peakExtraBytes: peak };
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
