import { createHash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
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
  const hash = createHash('sha256');
  let size = 0;
  let headerText = '';
  let embedded = '';
  const attachments: ParsedMessage['attachments'] = [];
  let text = '';
  const parser = new MailParser({ skipHtmlToText: false, skipTextToHtml: true, skipImageLinks: true, maxHtmlLengthToParse: 2_000_000 } as never);
  const tee = new PassThrough();
  raw.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    size += chunk.length;
  });
  parser.on('headerLines', (lines: ReadonlyArray<{ line: string }>) => {
    headerText = lines.map((l) => l.line).join('\r\n');
  });
  parser.on('data', (data: { type: string; text?: string; html?: string; content?: Readable; release?: (() => void) | null; filename?: string; contentType?: string }) => {
    if (data.type === 'text') {
      text = (data.text ?? '').slice(0, limits.maxTextChars);
      return;
    }
    const attachment = { filename: data.filename ?? null, contentType: data.contentType ?? 'application/octet-stream', size: 0 };
    attachments.push(attachment);
    const keep = /^(message\/(rfc822|delivery-status)|text\/rfc822-headers)/i.test(attachment.contentType);
    data.content?.on('data', (chunk: Buffer) => {
      attachment.size += chunk.length;
      if (keep && embedded.length < embeddedCap) embedded += chunk.toString('utf8', 0, Math.min(chunk.length, embeddedCap - embedded.length));
    });
    data.content?.on('end', () => data.release?.());
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
