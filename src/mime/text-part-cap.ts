import { Transform, type TransformCallback } from 'node:stream';
import { Splitter, type SplitterChunk, type SplitterOptions } from '@zone-eu/mailsplit';
import { isUnknownCharset } from './legacy-charset.js';
import { undeclaredCharset } from './undeclared-text.js';

type MimeNode = Extract<SplitterChunk, { type: 'node' }>;

/**
 * The most text characters kept per message whatever max_body_size says: above this the
 * decoded strings would near V8's string limit (2^29 characters; a 560 MB body ended the daemon
 * with ERR_STRING_TOO_LONG) and the parser's copies of them several GB.
 */
export const inboundTextCeiling = 32 * 1024 * 1024;

/** The most encoded bytes of one kind of text (plain, HTML) passed to the parser per message. */
const encodedCeiling = 256 * 1024 * 1024;

/**
 * Encoded bytes per character of decoded text, at most, by transfer encoding: the budget must
 * let through enough for `maxChars` characters in any charset. Base64 of UTF-8 CJK is 4 bytes
 * and a line break per 76 (4.2); quoted-printable of UTF-8 CJK is 9 plus soft line breaks
 * (9.5); raw UTF-8 is at most 3 bytes per UTF-16 unit, UTF-32 4.
 */
const encodedBytesPerChar: Record<string, number> = { base64: 6, 'quoted-printable': 10 };
const rawBytesPerChar = 4;

/** The part types mailparser reads as the message's text (mailparser's textTypes): the rest are attachments. */
const textKinds: Record<string, 'text' | 'html'> = { 'text/plain': 'text', 'message/delivery-status': 'text', 'text/html': 'html' };

/**
 * The message's bytes, as they come, less the body bytes of its text parts past a budget:
 * placed in front of mailparser (which keeps every text part whole in memory and turns it into
 * one string), it keeps memory bounded whatever a text part's size. Each kind of text (plain,
 * HTML) gets `maxChars` characters' worth of encoded bytes per message, all its parts together
 * (a thousand parts of 1 MB are as big as one of 1 GB); what is past it is dropped, not
 * decoded, and `cut` says so. The cut comes after the last line break that fits, so a base64 or
 * quoted-printable line is not broken (one line with no break is cut where the budget ends).
 *
 * A part is text exactly when mailparser would read it as text (its createNode): a leaf of
 * type text/plain, text/html or message/delivery-status whose disposition is none or
 * `inline` — a root with no Content-Type is text/plain. An attached .txt file is an attachment
 * and passes whole, as does everything else: headers, boundaries, other parts. The MIME
 * structure is read by mailsplit (mailparser's own splitter, given the same `options`), so both
 * see the same parts, and is written back byte for byte (what MessageJoiner does), only
 * shorter. A splitter error (a header over its size, too many parts) is this stream's error:
 * mailparser fails on the same bytes with the same error.
 *
 * With `markUndeclared`, a text part that declares no charset (or US-ASCII, which 8-bit bytes
 * belie) is passed on with charset `x-mailctl-undeclared` (undeclared-text.ts: its bytes reach
 * the caller unread, to be read once the whole message is known), and `declaredCharsets` lists
 * the charsets the message's parts do declare.
 */
export class TextPartCap extends Transform {
  /** A Transform: its declaration lists only the 'data' event. */
  readonly #splitter: Transform;
  /** Characters of each kind still to pass, and encoded bytes passed. */
  readonly #chars: { text: number; html: number };
  readonly #bytes = { text: 0, html: 0 };
  #cut = false;
  /** The part whose body bytes are passing now, if it is text: its kind and encoded bytes per character. */
  #current: { kind: 'text' | 'html'; bytesPerChar: number } | null = null;
  #paused = false;
  readonly #markUndeclared: boolean;
  readonly #declared = new Set<string>();

  /** `maxChars`: text characters kept per kind per message (max_body_size); `options`: mailparser's. */
  constructor(maxChars: number, options: SplitterOptions, extra: { markUndeclared?: boolean } = {}) {
    super();
    this.#markUndeclared = extra.markUndeclared ?? false;
    const chars = Math.max(1, Math.min(maxChars, inboundTextCeiling));
    this.#chars = { text: chars, html: chars };
    this.#splitter = new Splitter(options) as unknown as Transform;
    this.#splitter.on('data', (chunk: SplitterChunk) => {
      const out = this.#pass(chunk);
      // The parser is behind: hold the splitter (and, through it, our writes) until it reads on.
      if (out && !this.push(out)) {
        this.#paused = true;
        this.#splitter.pause();
      }
    });
    this.#splitter.on('error', (error: Error) => this.destroy(error));
  }

  /** The charsets the message's parts declare (Content-Type's charset parameter), lower case, at most 16. */
  get declaredCharsets(): string[] {
    return [...this.#declared];
  }

  /** True once some text was dropped: the message's text is cut. */
  get cut(): boolean {
    return this.#cut;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.#splitter.write(chunk)) done();
    else this.#splitter.once('drain', () => done());
  }

  override _flush(done: TransformCallback): void {
    this.#splitter.once('end', () => done());
    this.#splitter.end();
  }

  override _read(size: number): void {
    if (this.#paused) {
      this.#paused = false;
      this.#splitter.resume();
    }
    super._read(size);
  }

  override _destroy(error: Error | null, done: (error: Error | null) => void): void {
    this.#splitter.destroy();
    done(error);
  }

  /** The bytes to pass for one splitter object: a node's header block, structure bytes, or (some of) a body. */
  #pass(chunk: SplitterChunk): Buffer | null {
    if (chunk.type === 'node') {
      this.#current = textPart(chunk);
      const charset = typeof chunk.charset === 'string' ? chunk.charset.trim().toLowerCase() : '';
      const unknown = isUnknownCharset(charset);
      if (charset && !unknown && this.#declared.size < 16) this.#declared.add(charset.slice(0, 40));
      if (this.#markUndeclared && this.#current && (!charset || unknown || /^(us-?ascii|ascii)$/.test(charset))) chunk.setCharset(undeclaredCharset);
      return chunk.getHeaders();
    }
    if (chunk.type !== 'body' || !this.#current) return chunk.value;
    const { kind, bytesPerChar } = this.#current;
    const left = Math.max(0, Math.min(Math.floor(this.#chars[kind] * bytesPerChar), encodedCeiling - this.#bytes[kind]));
    if (chunk.value.length <= left) {
      this.#chars[kind] -= chunk.value.length / bytesPerChar;
      this.#bytes[kind] += chunk.value.length;
      return chunk.value;
    }
    // Over the budget: this kind of text ends here, for this part and every later one.
    this.#cut = true;
    this.#chars[kind] = 0;
    if (left === 0) return null;
    const lineEnd = chunk.value.lastIndexOf(0x0a, left - 1);
    return chunk.value.subarray(0, lineEnd >= 0 ? lineEnd + 1 : left);
  }
}

/** The kind and encoded bytes per character of a node mailparser reads as text, else null (mailparser's createNode, isAttachment). */
function textPart(node: MimeNode): { kind: 'text' | 'html'; bytesPerChar: number } | null {
  if (node.multipart) return null;
  const contentType = node.contentType || (node.root ? 'text/plain' : '');
  const kind = textKinds[contentType];
  // mailparser: a disposition other than attachment or inline counts as attachment.
  if (!kind || (node.disposition && node.disposition !== 'inline')) return null;
  return { kind, bytesPerChar: encodedBytesPerChar[node.encoding || ''] ?? rawBytesPerChar };
}
