import { createHash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { Base64SizeCounter } from '../mime/base64-size.js';
import { parseHeaderBlock, type HeaderBlock } from '../mime/header-block.js';

/** What the inbound rules need from a message; attachments are counted, never kept. */
export interface ParsedMessage {
  headers: HeaderBlock;
  messageId: string | null;
  from: string | null;
  fromName: string | null;
  to: string[];
  subject: string;
  text: string;
  attachments: Array<{ filename: string | null; contentType: string; size: number }>;
  /** Raw text of embedded message parts (a bounce's copy of our message), capped. */
  embedded: string;
  contentHash: string;
  size: number;
}

const embeddedCap = 64 * 1024;
/** The parts whose raw text is kept in `embedded`: a bounce's copy of the message it returns. */
const embeddedType = /^(message\/(rfc822|delivery-status)|text\/rfc822-headers)/i;

/** What MailParser's (internal) createNode gives and takes; see countingParser. */
interface ParserNode {
  node: { contentType?: string; filename?: string | false };
  headers: object;
  contentType?: string;
  isAttachment?: boolean;
  encoding?: string;
  decoder?: NodeJS.ReadWriteStream;
}
type MailParserClass = typeof import('mailparser').MailParser;
type CountingParser = InstanceType<MailParserClass> & { counters: WeakMap<object, Base64SizeCounter> };
let countingParserClass: (new (options: object) => CountingParser) | undefined;

/**
 * MailParser, except that a base64 attachment is not decoded only for us to count its bytes:
 * its decoder is swapped for a Base64SizeCounter (the profile's biggest parsing cost was
 * libbase64 on attachments). The parts we keep the text of (embeddedType) are decoded as before.
 */
function countingParser(MailParser: MailParserClass): new (options: object) => CountingParser {
  countingParserClass ??= class extends (MailParser as unknown as new (options: object) => { createNode(node: unknown): ParserNode; libmime: { detectMimeType(name: string): string | false }; decoderEnded?: boolean }) {
    /** Keyed by the node's headers object, which is also the attachment's `headers`. */
    readonly counters = new WeakMap<object, Base64SizeCounter>();

    override createNode(data: unknown): ParserNode {
      const created = super.createNode(data);
      if (!created.isAttachment || created.encoding !== 'base64' || !created.decoder) return created;
      // The type the attachment will be reported with (MailParser's processChunk does the same).
      let contentType = created.contentType ?? '';
      if (contentType === 'application/octet-stream' && created.node.filename) contentType = this.libmime.detectMimeType(created.node.filename) || contentType;
      if (embeddedType.test(contentType)) return created;
      const counter = new Base64SizeCounter();
      counter.on('end', () => {
        this.decoderEnded = true;
      });
      created.decoder = counter;
      this.counters.set(created.headers, counter);
      return created;
    }
  } as unknown as new (options: object) => CountingParser;
  return countingParserClass;
}

/** The message's stream failed (the server or network), as opposed to the message being unparseable. */
export class SourceStreamError extends Error {
  override readonly name = 'SourceStreamError';
}

/**
 * Parses a message as it streams in (mailparser's MailParser): attachments are drained and
 * only their sizes kept, so a 25 MB message is never held whole. The raw bytes are
 * hashed on the way through (the identity of a message without a Message-ID).
 */
export async function parseMessage(raw: Readable, limits: { maxTextChars: number }): Promise<ParsedMessage> {
  const { MailParser } = await import('mailparser');
  const Parser = countingParser(MailParser);
  const hash = createHash('sha256');
  let size = 0;
  let headerText = '';
  let embedded = '';
  const attachments: ParsedMessage['attachments'] = [];
  let text = '';
  // checksumAlgo false: MailParser would MD5 every attachment for a checksum we do not use.
  const parser = new Parser({ skipHtmlToText: false, skipTextToHtml: true, skipImageLinks: true, maxHtmlLengthToParse: 2_000_000, checksumAlgo: false });
  const tee = new PassThrough();
  raw.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    size += chunk.length;
  });
  parser.on('headerLines', (lines: ReadonlyArray<{ line: string }>) => {
    headerText = lines.map((l) => l.line).join('\r\n');
  });
  parser.on('data', (data: { type: string; text?: string; html?: string; content?: Readable; release?: (() => void) | null; filename?: string; contentType?: string; headers?: object }) => {
    if (data.type === 'text') {
      text = (data.text ?? '').slice(0, limits.maxTextChars);
      return;
    }
    const attachment = { filename: data.filename ?? null, contentType: data.contentType ?? 'application/octet-stream', size: 0 };
    attachments.push(attachment);
    const keep = embeddedType.test(attachment.contentType);
    const counter = data.headers ? parser.counters.get(data.headers) : undefined;
    data.content?.on('data', (chunk: Buffer) => {
      attachment.size += chunk.length;
      if (keep && embedded.length < embeddedCap) embedded += chunk.toString('utf8', 0, Math.min(chunk.length, embeddedCap - embedded.length));
    });
    data.content?.on('end', () => {
      if (counter) attachment.size = counter.decodedSize;
      data.release?.();
    });
  });
  await new Promise<void>((resolve, reject) => {
    parser.once('end', () => resolve());
    parser.once('error', reject);
    // A broken connection is not a broken message: the caller must not quarantine it.
    raw.once('error', (error: Error) => reject(new SourceStreamError(error.message)));
    raw.pipe(tee).pipe(parser);
  });
  const headers = parseHeaderBlock(headerText + '\r\n\r\n');
  const address = (value: string | undefined) => addressIn(value ?? '');
  const fromHeader = headers.get('from');
  const name = fromHeader ? withoutFirstAngleBrackets(fromHeader).replace(/"/g, '').trim() || null : null;
  const messageId = /<([^<>\s]+)>/.exec(headers.get('message-id') ?? '')?.[1] ?? null;
  const { decodeHeaderValue } = await import('../mime/header-block.js');
  return {
    headers,
    messageId,
    from: address(fromHeader),
    fromName: name ? decodeHeaderValue(name) : null,
    to: (headers.get('to') ?? '').split(',').map((part) => address(part)).filter((a): a is string => a !== null),
    subject: decodeHeaderValue(headers.get('subject') ?? ''),
    text,
    attachments,
    embedded,
    contentHash: hash.digest('hex'),
    size,
  };
}

// A header line can be 1 MB: these helpers are linear where the regular expressions they
// replace backtracked quadratically (a From of 1 MB without "@", or of "<<<…", took hours).

/**
 * The first address in a header value, lower-cased: `<local@domain>`, else a bare
 * `local@domain` token — what `/<([^<>\s]+@[^<>\s]+)>/`, then
 * `/([^\s<>",;:]+@[^\s<>",;:]+)/`, matched.
 */
export function addressIn(value: string): string | null {
  for (const match of value.matchAll(/<([^<>\s]*)>/g)) {
    if (match[1]!.slice(1, -1).includes('@')) return match[1]!.toLowerCase();
  }
  for (const token of value.split(/[\s<>",;:]+/)) {
    if (token.slice(1, -1).includes('@')) return token.toLowerCase();
  }
  return null;
}

/** The value without its first `<…>` (as `value.replace(/<[^>]*>/, '')`). */
export function withoutFirstAngleBrackets(value: string): string {
  const open = value.indexOf('<');
  const close = open < 0 ? -1 : value.indexOf('>', open + 1);
  return close < 0 ? value : value.slice(0, open) + value.slice(close + 1);
}
