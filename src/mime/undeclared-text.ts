import { Transform, type TransformCallback } from 'node:stream';
import { decodeUndeclared, strictUtf8 } from './legacy-charset.js';

/**
 * The charset TextPartCap writes into a text part that declares none (or only US-ASCII), so
 * that mailparser hands its bytes to UndeclaredBytes instead of reading them as UTF-8 (which
 * turned every Latin-1 "ü" into U+FFFD before anyone could look at it).
 */
export const undeclaredCharset = 'x-mailctl-undeclared';

/**
 * The part's charset is decided only once the whole message has passed (another part, or the
 * HTML after it, may declare it), while mailparser wants text as each part ends. So the part's
 * bytes travel through mailparser *escaped*: ASCII as itself, each byte 0x80–0xFF as the
 * private-use code point U+F700 + byte (U+F780–U+F7FF, which survives mailparser's UTF-8 round
 * trips), the part's start marked by U+F700. repairUndeclared reads them back afterwards.
 * Nothing is held: a chunk is escaped as it passes, at most 3 bytes out per byte in and one
 * UTF-16 unit per byte in mailparser's string — what reading the bytes as UTF-8 cost before
 * (a U+FFFD per bad byte), so TextPartCap's bound on text memory holds as it was.
 */
const mark = 0xf700;
const markBytes = Buffer.from(String.fromCodePoint(mark));
const escapedByte = Array.from({ length: 128 }, (_, i) => Buffer.from(String.fromCodePoint(mark + 0x80 + i)));

/** mailparser's decode stream for a part of charset undeclaredCharset: the bytes escaped as above. */
export class UndeclaredBytes extends Transform {
  #started = false;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (chunk.length === 0) return done();
    const out: Buffer[] = [];
    if (!this.#started) {
      this.#started = true;
      out.push(markBytes);
    }
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (byte < 0x80) continue;
      if (i > start) out.push(chunk.subarray(start, i));
      out.push(escapedByte[byte - 0x80]!);
      start = i + 1;
    }
    if (start < chunk.length) out.push(chunk.subarray(start));
    done(null, Buffer.concat(out));
  }
}

/**
 * The escaped parts of `text`: from each mark, the ASCII and escaped bytes that follow. Linear:
 * one character class, nothing to backtrack into.
 */
const escapedRun = /\uF700[\u0000-\u007F\uF780-\uF7FF]*/g;

/** A run's bytes, the mark dropped. */
function runBytes(run: string): Buffer {
  const bytes = Buffer.allocUnsafe(run.length);
  let length = 0;
  for (let i = 0; i < run.length; i++) {
    const code = run.charCodeAt(i);
    if (code === mark) continue;
    bytes[length++] = code < 0x80 ? code : code - mark;
  }
  return bytes.subarray(0, length);
}

/** The bytes of every escaped part in `texts` that are not valid UTF-8: the samples legacyCharsetFor reads. */
export function undeclaredSamples(texts: ReadonlyArray<string | null>): Buffer[] {
  const samples: Buffer[] = [];
  for (const text of texts) {
    if (!text || !text.includes('\uF700')) continue;
    for (const match of text.matchAll(escapedRun)) {
      const bytes = runBytes(match[0]);
      if (strictUtf8(bytes) === null) samples.push(bytes);
    }
  }
  return samples;
}

/**
 * `text` with each escaped part read back: strictly as UTF-8 when its bytes are valid UTF-8,
 * else in `charset` (legacyCharsetFor over the message's samples). Text without escapes is
 * returned as it is.
 */
export function repairUndeclared(text: string, charset: string): string {
  if (!text.includes('\uF700')) return text;
  return text.replace(escapedRun, (run) => decodeUndeclared(runBytes(run), charset));
}
