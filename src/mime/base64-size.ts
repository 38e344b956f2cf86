import { Transform, type TransformCallback } from 'node:stream';

// 1 for the 64 characters of the base64 alphabet; padding, line ends and junk count for nothing.
const alphabet = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') alphabet[c.charCodeAt(0)] = 1;

/**
 * Counts the decoded size of a base64 body without decoding it: floor(n × 3 / 4) for n
 * alphabet characters — exact for well-formed base64 (whitespace stripped, length a
 * multiple of 4 with its "=" padding), an approximation for broken input. A Transform
 * that outputs nothing, so it can stand in for a decoder whose output is only counted.
 */
export class Base64SizeCounter extends Transform {
  private characters = 0;

  /** The decoded size of what was written so far. */
  get decodedSize(): number {
    return Math.floor((this.characters * 3) / 4);
  }

  /** Adds a chunk of base64 text. */
  count(chunk: Uint8Array): void {
    let n = 0;
    for (let i = 0; i < chunk.length; i++) n += alphabet[chunk[i]!]!;
    this.characters += n;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.count(chunk);
    done();
  }
}
