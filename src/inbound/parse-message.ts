import type { CommunicationAttachment } from '../store/communications-repo.js';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { boundedText } from '../mime/bounded-text.js';
import { calendarSummary } from '../mime/calendar-summary.js';
import { decodeHeaderValue, parseHeaderBlock, unknownCharsetWordBytes, type HeaderBlock } from '../mime/header-block.js';
import { decodeUndeclared, legacyCharsetFor, strictUtf8 } from '../mime/legacy-charset.js';
import { rtfBody } from '../mime/rtf-text.js';
import { readTnef, type TnefContent } from '../mime/tnef.js';
import { repairUndeclared, undeclaredCharset, undeclaredSamples, UndeclaredBytes } from '../mime/undeclared-text.js';
import type { StoreBatch, StoredBlob } from '../store/message-store.js';
import { formatSize } from '../config/units.js';
import { InboundFailure } from './inbound-failure.js';
import { stripQuotedHtml } from './strip-quoted-html.js';
import { htmlForText } from './html-for-text.js';
import { mailboxesIn } from './mailbox-list.js';
import { resolveSender, type MessageSender } from './message-sender.js';

/** An attachment as kept: what it is, and its bytes in the message store under `sha256` (the communication's attachment row, before it has a position). */
export type ParsedAttachment = Omit<CommunicationAttachment, 'position'>;

/** What the inbound rules need from a message, and the content kept with its communication. */
export interface ParsedMessage {
  headers: HeaderBlock;
  messageId: string | null;
  /** The sender's address (sender.address): null when there is none or it is invalid. */
  from: string | null;
  fromName: string | null;
  /** Who sent it, from which header, what was repaired, or why it is invalid (message-sender.ts). */
  sender: MessageSender;
  to: string[];
  cc: string[];
  subject: string;
  /** The Date header as sent, or null. */
  date: string | null;
  /**
   * The best text of the message (bestText), at most `maxTextChars`: a text/plain body that is
   * not blank, else the HTML's text, else a TNEF body's, else a calendar invitation's summary;
   * empty when the message has none of these.
   */
  text: string;
  /** The HTML body, at most `maxTextChars`, or null. */
  html: string | null;
  /** True when the text or HTML body was longer than the limit and was cut (the raw message is whole). */
  truncated: boolean;
  /**
   * When the text came from HTML: the text of that HTML without its quote containers (Gmail's,
   * Outlook's reply separator, Apple Mail's cite), at most `maxTextChars`. A new-text note starts from it.
   */
  newTextFromHtml?: string;
  attachments: ParsedAttachment[];
  /** Raw text of embedded message parts (a bounce's copy of the message it returns), capped. */
  embedded: string;
  /**
   * The charset the message's undeclared 8-bit text was read in when it was not UTF-8
   * (legacy-charset.ts): for a header value read later, `decodeHeaderValue(value, legacyCharset)`.
   */
  legacyCharset: string;
  /** SHA-256 of the exact bytes (the raw blob's name). */
  contentHash: string;
  size: number;
}

/** A message as taken: its raw bytes stored, its header block as received, and what parsing made of it. */
export interface TakenMessage {
  raw: StoredBlob;
  /** The header section as received (UTF-8 where it is valid UTF-8, else Latin-1), at most 1 MB. */
  headerBlock: string;
  parsed: ParsedMessage | null;
  /** Why parsing failed, when it did: the message is quarantined with its raw bytes kept. */
  parseError: string | null;
}

const embeddedCap = 64 * 1024;
/**
 * The largest winmail.dat decoded (and max_message_size, when smaller): it is read whole into
 * memory, so a larger one stays an attachment as it came (the raw message is whole either way).
 */
const tnefCap = 64 * 1024 * 1024;
/** The largest calendar part summarised. */
const calendarCap = 1024 * 1024;
/** Winmail.dat: Outlook's Transport Neutral Encapsulation Format ([MS-OXTNEF]). */
const tnefType = /^application\/(vnd\.)?ms-tnef$/i;
/** An iCalendar part (RFC 5545; RFC 6047 for its use in mail). */
const calendarType = /^(text\/calendar|application\/ics)$/i;
const headerBlockCap = 1024 * 1024;
/** The parts whose raw text is kept in `embedded`: a bounce's copy of the message it returns. */
const embeddedType = /^(message\/(rfc822|delivery-status)|text\/rfc822-headers)/i;

/** max_message_size, and whose failure it is when a message passes it. */
export interface MessageCap {
  bytes: number;
  protocol: InboundFailure['protocol'];
}

/** The message's stream failed (the server or network), as opposed to the message being unparseable. */
export class SourceStreamError extends Error {
  override readonly name = 'SourceStreamError';
}

interface ParserAttachment {
  type: 'attachment';
  content: Readable;
  release: (() => void) | null;
  filename?: string;
  contentType?: string;
  contentDisposition?: string;
  contentId?: string;
  related?: boolean;
}

interface ParserText {
  type: 'text';
  text?: string;
  html?: string | false;
  /** Set when mailparser could not turn the HTML into text (too long, nested too deep). */
  textConversionError?: Error;
}

/**
 * Takes a message as it streams in: the exact bytes go into the message store (`batch`), and at
 * the same time through mailparser, whose attachments stream into the store too. Nothing is
 * held whole: a 25 MB message passes in pieces, and its text parts are cut as they pass
 * (TextPartCap: `maxTextChars` characters of text and of HTML are kept, at most
 * inboundTextCeiling; `truncated` says when some were dropped), so a 600 MB text body costs
 * no more memory than a small one. A message mailparser cannot read is still stored whole
 * (parseError says why); a failing source stream throws SourceStreamError. With `maxMessage`,
 * a message whose bytes pass max_message_size is stopped there (its stream destroyed, nothing
 * stored) and throws an InboundFailure of phase "fetch" that is the message's own fault
 * (detailCode MESSAGE_TOO_LARGE): however the source lists it or whether it ever ends.
 */
export async function takeMessage(raw: Readable, batch: StoreBatch, limits: { maxTextChars: number; maxMessage?: MessageCap }): Promise<TakenMessage> {
  const [{ MailParser }, { TextPartCap, inboundTextCeiling }] = await Promise.all([import('mailparser'), import('../mime/text-part-cap.js'), loadHtmlToText()]);
  const parser = new MailParser(parserOptions) as unknown as NodeJS.ReadWriteStream & PassThrough;
  const maxTextChars = Math.min(limits.maxTextChars, inboundTextCeiling);
  // mailparser keeps every text part whole: the text is cut in front of it, as it streams.
  // Text parts without a charset pass through as their bytes, read once the message is known.
  const textCap = new TextPartCap(maxTextChars, parserOptions, { markUndeclared: true });
  readsUndeclared(parser);
  textCap.pipe(parser);
  // The cap's error is the one mailparser's own splitter would have raised on the same bytes.
  textCap.on('error', (error: Error) => parser.destroy(error));
  const rawSink = new PassThrough();
  const rawPut = batch.put(rawSink);
  /**
   * The first put that failed — the raw copy's, or an attachment's for the store's own reasons
   * (its disk full, read-only, failing): from then on the rest of the message is read (the
   * mailbox session stays in step) but written nowhere, and the message fails with that error.
   */
  let storeFailure: Error | null = null;
  // Awaited below; a failure must not be unhandled meanwhile. Destroyed here whatever the store
  // did with it: a put that failed and left its stream full kept the loop below waiting for a
  // 'drain' for ever (a disk full in the middle of a message hung the poll).
  rawPut.catch((error: Error) => {
    storeFailure ??= error;
    rawSink.destroy();
  });

  let parseError: Error | null = null;
  /** mailparser's text and HTML, undeclared parts still escaped (undeclared-text.ts). */
  let parsedText = '';
  let parsedHtml: string | null = null;
  let embedded = '';
  /** The bytes of each winmail.dat and calendar part, by its index in `attachments`. */
  const collected: Array<{ index: number; kind: 'tnef' | 'calendar'; part: Collected }> = [];
  const tnefLimit = Math.min(tnefCap, limits.maxMessage?.bytes ?? tnefCap);
  const attachments: ParsedAttachment[] = [];
  const attachmentPuts: Array<Promise<void>> = [];
  /** Attachment streams still being stored: destroyed when the message is abandoned, so that their puts end. */
  const storing = new Set<Readable>();

  parser.on('error', (error: Error) => {
    parseError ??= error;
    // Nothing reads the cap any more: it would hold what it has split.
    textCap.destroy();
  });
  parser.on('data', (data: ParserText | ParserAttachment) => {
    if (data.type === 'text') {
      parsedText = data.text ?? '';
      parsedHtml = typeof data.html === 'string' ? data.html : null;
      return;
    }
    const contentType = data.contentType ?? 'application/octet-stream';
    const embeds = embeddedType.test(contentType);
    const kind = tnefType.test(contentType) || (contentType === 'application/octet-stream' && /^winmail\.dat$/i.test(data.filename ?? '')) ? 'tnef'
      : calendarType.test(contentType) ? 'calendar' : null;
    const part = kind ? new Collected(kind === 'tnef' ? tnefLimit : calendarCap) : null;
    if (kind && part) collected.push({ index: attachments.length, kind, part });
    const keep = embeds || part !== null;
    // An embedded message is read on its way to the store, not beside it: a 'data' listener set
    // the part flowing before the store's put began reading it (it awaits its folders first),
    // and the chunks that passed meanwhile were lost to the stored copy (an empty attachment-1.eml).
    const content: Readable = keep ? data.content.pipe(new Transform({
      transform(chunk: Buffer, _encoding, done) {
        if (embeds && embedded.length < embeddedCap) embedded += chunk.toString('utf8', 0, Math.min(chunk.length, embeddedCap - embedded.length));
        part?.add(chunk);
        done(null, chunk);
      },
    })) : data.content;
    // pipe() does not pass errors on: the part's error must fail its put, as it did unobserved.
    if (keep) {
      data.content.once('error', (error: Error) => content.destroy(error));
      // Destroyed (abandoned, or its put failed), the part behind it goes too: it would hold what mailparser still writes.
      content.once('close', () => data.content.destroy());
    }
    const index = attachments.length;
    attachments.push({ filename: data.filename ?? null, contentType, size: 0, sha256: '', contentId: data.contentId ? data.contentId.trim().replace(/^<|>$/g, '').trim() || null : null, inline: data.contentDisposition === 'inline' || Boolean(data.related) });
    storing.add(content);
    const put = batch.put(content).then((blob) => {
      attachments[index]!.size = blob.size;
      attachments[index]!.sha256 = blob.hash;
    }, (error: Error) => {
      // Nothing reads it any more: destroyed, it takes what mailparser still writes into it
      // and drops it (else it would all be held in memory).
      content.destroy();
      if (isStoreError(error)) storeFailure ??= error;
      throw error;
    }).finally(() => {
      storing.delete(content);
      // mailparser waits for the release before it reads on: a failed put releases too, or
      // the parser (and the message with it) would wait forever.
      data.release?.();
    });
    // Awaited below, once the message has passed; a put that fails before then (the disk is
    // full) must not be an unhandled rejection meanwhile: that ended the daemon with a stack trace.
    put.catch(() => undefined);
    attachmentPuts.push(put);
  });
  const parserEnded = new Promise<void>((resolve) => {
    parser.once('end', () => resolve());
    parser.once('error', () => resolve());
    // Destroyed without an error (abandoned), it sends neither.
    parser.once('close', () => resolve());
  });
  // Keep the parser flowing even when no one reads its objects (the 'data' handler reads them).
  parser.resume();

  /** Stops parsing and storing this message, and waits until every put has ended. */
  const abandon = async () => {
    rawSink.destroy(); // without the error: the put may not be listening yet
    textCap.destroy();
    parser.destroy();
    // A destroyed parser never ends the attachment streams it opened: without this their puts,
    // and so the message, waited forever (a connection lost in the middle of an attachment).
    for (const content of storing) content.destroy();
    await Promise.allSettled([rawPut, ...attachmentPuts]);
  };

  const head = new HeaderCapture(headerBlockCap);
  let sourceError: Error | null = null;
  let received = 0;
  let tooLarge = false;
  try {
    for await (const chunk of raw as AsyncIterable<Buffer>) {
      received += chunk.length;
      // Leaving the loop destroys the source's stream: nothing more is read of it.
      if (limits.maxMessage && received > limits.maxMessage.bytes) {
        tooLarge = true;
        break;
      }
      head.add(chunk);
      // Read to the end even when storing failed: the mailbox session stays in step.
      if (storeFailure) continue;
      if (!rawSink.write(chunk)) await drained(rawSink);
      if (!parseError && !storeFailure && !textCap.write(chunk)) await Promise.race([drained(textCap), parserEnded]);
    }
  } catch (error) {
    sourceError = error as Error;
  }
  if (sourceError) {
    await abandon();
    throw new SourceStreamError(sourceError.message);
  }
  if (tooLarge) {
    await abandon();
    const { bytes, protocol } = limits.maxMessage!;
    throw new InboundFailure(protocol, 'fetch', `the message is larger than max_message_size (${formatSize(bytes)}): more than ${bytes} bytes arrived`, {
      detailCode: 'MESSAGE_TOO_LARGE',
      messageFault: true,
      headerBlock: boundedText(decodeHeaderBytes(head.bytes()), headerBlockCap),
    });
  }
  if (storeFailure) {
    await abandon();
    // The first failure (StoreFullError when the disk is full), not what abandoning caused after it.
    throw storeFailure;
  }
  rawSink.end();
  textCap.end(); // ends the parser (pipe) once the rest has passed
  await parserEnded;
  const [blob] = await Promise.all([rawPut, ...attachmentPuts.map((p) => p.catch((error: Error) => {
    // A store failure (disk full) is the store's error; anything else is the attachment's (a decoding fault).
    if (isStoreError(error)) throw error;
    parseError ??= error;
  }))]);
  const headerBytes = head.bytes();
  const headerBlock = boundedText(decodeHeaderBytes(headerBytes), headerBlockCap);
  if (parseError) return { raw: blob, headerBlock, parsed: null, parseError: (parseError as Error).message };

  const headers = parseHeaderBlock(headerBytes.toString('latin1') + '\r\n\r\n');

  // Undeclared 8-bit text (headers, text parts without a charset) is read in one charset for
  // the whole message, chosen from all of it: see legacy-charset.ts.
  // (Encoded words labelled `unknown-8bit` are undeclared 8-bit text too.)
  const headerSamples = [headers.get('subject'), ...headers.getAll('from').slice(0, 8)].flatMap((value) => {
    const bytes = value ? Buffer.from(value, 'latin1') : null;
    const raw = bytes && !/^[\x00-\x7f]*$/.test(value!) && strictUtf8(bytes) === null ? [bytes] : [];
    return value ? [...raw, ...unknownCharsetWordBytes(value)] : raw;
  });
  const legacyCharset = legacyCharsetFor([...undeclaredSamples([parsedText, parsedHtml]), ...headerSamples], [...textCap.declaredCharsets, ...metaCharsets(parsedHtml)]);
  const fullText = repairUndeclared(parsedText, legacyCharset);
  const fullHtml = parsedHtml === null ? null : repairUndeclared(parsedHtml, legacyCharset);
  let html = fullHtml === null ? null : boundedText(fullHtml, maxTextChars);

  // Each winmail.dat that decodes gives way to the files inside it, stored like any attachment.
  const decoded: TnefContent[] = [];
  const replaced = new Map<number, ParsedAttachment[]>();
  const calendars: string[] = [];
  for (const { index, kind, part } of collected) {
    const bytes = part.bytes();
    if (!bytes || !attachments[index]?.sha256) continue;
    if (kind === 'calendar') {
      const summary = calendarSummary(decodeUndeclared(bytes, legacyCharset));
      if (summary) calendars.push(summary);
      continue;
    }
    const tnef = readTnef(bytes);
    if (!tnef || (!tnef.text && !tnef.html && !tnef.rtf && tnef.attachments.length === 0)) continue;
    decoded.push(tnef);
    const files: ParsedAttachment[] = [];
    for (const file of tnef.attachments) {
      const blob = await batch.put(file.data);
      files.push({ filename: file.filename, contentType: file.contentType, size: blob.size, sha256: blob.hash, contentId: file.contentId, inline: false });
    }
    replaced.set(index, files);
  }
  const kept = attachments.flatMap((attachment, index) => replaced.get(index) ?? [attachment]);

  const best = bestText(fullText, html, decoded, calendars);
  if (html === null && best.html !== null) html = boundedText(best.html, maxTextChars);
  const text = boundedText(best.text, maxTextChars);
  const truncated = textCap.cut || best.text.length > maxTextChars || (fullHtml !== null && fullHtml.length > maxTextChars) || best.htmlCut;
  const sender = resolveSender(headers, (value) => decodeHeaderValue(value, legacyCharset));
  const addresses = (name: string) => headers.getAll(name).flatMap((value) => mailboxesIn(value, (raw) => raw).mailboxes.map((m) => m.address));
  return {
    raw: blob,
    headerBlock,
    parseError: null,
    parsed: {
      headers,
      messageId: /<([^<>\s]+)>/.exec(headers.get('message-id') ?? '')?.[1] ?? null,
      from: sender.address,
      fromName: sender.name,
      sender,
      to: addresses('to'),
      cc: addresses('cc'),
      subject: decodeHeaderValue(headers.get('subject') ?? '', legacyCharset),
      date: headers.get('date') ?? null,
      text,
      html,
      truncated,
      ...(best.newTextFromHtml !== undefined ? { newTextFromHtml: boundedText(best.newTextFromHtml, maxTextChars) } : {}),
      attachments: kept,
      embedded,
      legacyCharset,
      contentHash: blob.hash,
      size: blob.size,
    },
  };
}

/**
 * Parses a message without keeping it (the rules' view of a file an admin hands in): content
 * is hashed and dropped. Throws what takeMessage throws; a message it cannot parse throws.
 */
export async function parseMessage(raw: Readable, limits: { maxTextChars: number }): Promise<ParsedMessage> {
  const taken = await takeMessage(raw, hashOnlyBatch(), limits);
  if (!taken.parsed) throw new Error(`the message could not be parsed: ${taken.parseError ?? 'unknown error'}`);
  return taken.parsed;
}

/** A store batch that only hashes what is put in it: nothing is written anywhere. */
function hashOnlyBatch(): StoreBatch {
  return {
    async put(content) {
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of (Buffer.isBuffer(content) ? [content] : content) as AsyncIterable<Buffer>) {
        hash.update(chunk);
        size += chunk.length;
      }
      return { hash: hash.digest('hex'), size, storedSize: 0 };
    },
    commit: async () => undefined,
    discard: async () => undefined,
  };
}

/**
 * The header fields that decide what happens to a message (who it is from and to, what it
 * answers, our reference, whether it is automatic). Two copies are the same message only when
 * all of these agree — not only Message-ID, sender and subject: else a forged first copy
 * without the reference would make the real reply that follows a "duplicate" and drop it.
 * Fields added in transit (Received, Return-Path, Delivered-To, authentication results) are
 * left out, so a copy through another relay is still recognised.
 */
const decidingFields = ['from', 'sender', 'reply-to', 'to', 'cc', 'subject', 'date', 'in-reply-to', 'references', 'x-mailctl-ref', 'auto-submitted', 'precedence', 'list-id', 'content-type'];

/**
 * SHA-256 over what makes two copies of a message the same message: its Message-ID, the header
 * fields that decide its processing (decidingFields, whitespace-normalised) and its bodies and
 * attachments. Null without a Message-ID (then only the same bytes are a duplicate).
 */
export function messageFingerprint(message: ParsedMessage): string | null {
  if (!message.messageId) return null;
  const hash = createHash('sha256');
  hash.update(message.messageId).update('\0');
  for (const name of decidingFields) {
    for (const value of message.headers.getAll(name)) hash.update(name).update(':').update(value.replace(/\s+/g, ' ').trim()).update('\0');
  }
  for (const part of [message.text, message.html ?? '', ...message.attachments.map((a) => a.sha256)]) hash.update(part).update('\0');
  return hash.digest('hex');
}

/**
 * ignoreEmbedded: an attached message/rfc822 stays one attachment, byte for byte, instead of
 * being parsed into; checksumAlgo false: MailParser would MD5 every attachment for nothing.
 * The text cap reads the MIME structure with the same options, so both see the same parts.
 */
const parserOptions = { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true, maxHtmlLengthToParse: 2_000_000, checksumAlgo: false as const, ignoreEmbedded: true };

let htmlToText: typeof import('html-to-text').htmlToText | undefined;

/** Loads html-to-text (mailparser loads it too, so it is usually in the module cache already). */
async function loadHtmlToText(): Promise<void> {
  htmlToText ??= (await import('html-to-text')).htmlToText;
}

/**
 * Only this much of an HTML body is turned into text (the rest is kept as HTML): html-to-text is
 * superlinear on nested tags — 4 MB of "<b>" held the daemon 28 s (SIGTERM waited 24 s); 200,000
 * characters of the worst shapes measured take 1–1.6 s on a loaded machine, and hold ~30–100 KB
 * of ordinary text, more than a record note needs.
 */
const htmlToTextCap = 200_000;

/**
 * THE place where HTML becomes text (the HTML body, a TNEF body's HTML, RTF that encapsulates
 * HTML): the text of the HTML's first htmlToTextCap characters. mailparser's own conversion is
 * off (it took the whole HTML, and html-to-text is superlinear on nested tags), and it made
 * text only when the HTML was the whole message: an HTML body beside an inline image
 * (multipart/related), or nested in multipart/mixed, came out with no text at all. Empty when
 * the HTML is too broken to convert (it is kept as HTML either way).
 */
function htmlAsText(html: string): { text: string; cut: boolean } {
  if (!htmlToText) return { text: '', cut: false };
  const lean = htmlForText(html);
  const cut = lean.length > htmlToTextCap;
  try {
    return { text: trimLineEnds(htmlToText(cut ? lean.slice(0, htmlToTextCap) : lean, htmlToTextOptions)), cut };
  } catch {
    return { text: '', cut };
  }
}

/**
 * Headings keep their case as written (html-to-text upper-cases them by default: "NEUE ANFRAGE"),
 * and a table's cells stay apart: each row a line, its cells separated by three spaces ("Name
 * Ann Example", not "NameAnn Example"). Tables are not laid out as html-to-text's data tables:
 * most tables in mail are layout (a whole newsletter in nested cells), which that would cut
 * into 60-character columns, and nesting hundreds of them overflows its stack.
 */
const cellSpacing = (selector: string) => ({ selector, format: 'inlineSurround', options: { prefix: '', suffix: '   ' } });
const htmlToTextOptions = {
  wordwrap: false as const,
  limits: { maxDepth: 1000 },
  selectors: [
    ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, options: { uppercase: false } })),
    { selector: 'table', format: 'block', options: { leadingLineBreaks: 2, trailingLineBreaks: 2 } },
    { selector: 'tr', format: 'block', options: { leadingLineBreaks: 1, trailingLineBreaks: 1 } },
    cellSpacing('td'),
    cellSpacing('th'),
  ],
};

/** Text without white space at the ends of its lines (the cell spacing leaves some); linear. */
function trimLineEnds(text: string): string {
  return text.includes(' \n') || text.endsWith(' ') ? text.split('\n').map((line) => line.trimEnd()).join('\n') : text;
}

/**
 * The best text of a message (issue 16, item 3), in this order: its text/plain body when not
 * blank (white space only is blank: a client that writes an empty plain part beside the real
 * HTML); else the text of its HTML, wherever in the MIME tree it was; else the body of a TNEF
 * part (winmail.dat: plain, else HTML, else RTF); else the summary of a calendar invitation.
 * Empty when there is none. `html` is a TNEF part's HTML when the message had no HTML body;
 * `htmlCut` says the HTML converted was longer than htmlToTextCap.
 */
function bestText(plain: string, html: string | null, tnefs: readonly TnefContent[], calendars: readonly string[]): { text: string; html: string | null; htmlCut: boolean; newTextFromHtml?: string } {
  if (plain.trim()) return { text: plain, html: null, htmlCut: false };
  // From HTML, the new text is made from the HTML without its quote containers (Gmail's, Outlook's
  // separators, Apple's cite blockquotes): once made text, nothing marks them any more.
  const fromHtml = (source: string) => ({ newTextFromHtml: htmlAsText(stripQuotedHtml(source)).text });
  if (html !== null) {
    const { text, cut } = htmlAsText(html);
    if (text.trim()) return { text, html: null, htmlCut: cut, ...fromHtml(html) };
  }
  for (const tnef of tnefs) {
    if (tnef.text?.trim()) return { text: tnef.text.replace(/\r\n?/g, '\n'), html: tnef.html, htmlCut: false };
    if (tnef.html) {
      const { text, cut } = htmlAsText(tnef.html);
      if (text.trim()) return { text, html: tnef.html, htmlCut: cut, ...fromHtml(tnef.html) };
    }
    if (tnef.rtf) {
      const body = rtfBody(tnef.rtf);
      const converted = body.kind === 'html' ? htmlAsText(body.value) : { text: body.value.replace(/\r\n?/g, '\n'), cut: false };
      const text = converted.text;
      if (text.trim()) return { text, html: body.kind === 'html' ? body.value : null, htmlCut: converted.cut, ...(body.kind === 'html' ? fromHtml(body.value) : {}) };
    }
  }
  if (calendars.length > 0) return { text: calendars.join('\n\n'), html: null, htmlCut: false };
  return { text: '', html: null, htmlCut: false };
}

/** The charsets the HTML's `<meta charset>` / `<meta http-equiv content="…; charset=…">` name (the first 64 KB, at most 8). */
function metaCharsets(html: string | null): string[] {
  if (!html) return [];
  const head = html.slice(0, 64 * 1024);
  const found: string[] = [];
  for (const meta of head.matchAll(/<meta\b/gi)) {
    const at = meta.index!;
    const end = head.indexOf('>', at);
    const tag = head.slice(at, Math.min(end < 0 ? head.length : end, at + 1000));
    const m = /charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})/i.exec(tag);
    if (m) found.push(m[1]!);
    if (found.length >= 8) break;
  }
  return found;
}

/** The bytes of a part, collected as it passes to the store, up to `cap`: past it, none are kept. */
class Collected {
  #chunks: Buffer[] = [];
  #length = 0;
  #over = false;

  constructor(private readonly cap: number) {}

  add(chunk: Buffer): void {
    if (this.#over) return;
    if (this.#length + chunk.length > this.cap) {
      this.#over = true;
      this.#chunks = [];
      return;
    }
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** All of the part's bytes, or null when it was larger than the cap. */
  bytes(): Buffer | null {
    return this.#over ? null : Buffer.concat(this.#chunks, this.#length);
  }
}

/**
 * Has mailparser hand the bytes of a text part of charset undeclaredCharset (TextPartCap marks
 * the parts that declare none) to UndeclaredBytes, which passes them on escaped, instead of
 * decoding them itself. mailparser reads a part's charset through its `decoder`
 * (decodeStream(charset)); every other charset goes to the decoder it had.
 */
function readsUndeclared(parser: unknown): void {
  const target = parser as { decoder?: { decodeStream(charset: string): NodeJS.ReadWriteStream } };
  const own = target.decoder;
  if (!own || typeof own.decodeStream !== 'function') return;
  target.decoder = { decodeStream: (charset) => (charset === undeclaredCharset ? new UndeclaredBytes() : own.decodeStream(charset)) };
}

/** The store's own failures (its disk full, read-only or failing): the poll's, never the message's. */
function isStoreError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === 'E_STORE_FULL' || code === 'E_STORE_READ_ONLY' || code === 'E_STORE_WRITE';
}

/**
 * Resolves on the stream's next 'drain', 'close' or 'error'. The listener that did not fire is removed:
 * left behind, every wait for the store added a 'close' and an 'error' listener, thousands for
 * a 25 MB message (MaxListenersExceededWarning on the daemon's stderr).
 */
async function drained(stream: NodeJS.EventEmitter): Promise<void> {
  // A destroyed stream (its put failed) has closed already and will never drain.
  if ((stream as { destroyed?: boolean }).destroyed) return;
  const done = new AbortController();
  try {
    await Promise.race([once(stream, 'drain', { signal: done.signal }), once(stream, 'close', { signal: done.signal })]);
  } catch {
    // The stream's error is its put's (or the parser's), reported there: thrown here, a disk
    // full while storing the raw bytes passed for a failure of the mail source.
  } finally {
    done.abort();
  }
}

/** The bytes of the header section (up to the first empty line), collected as chunks pass, at most `cap`. */
export class HeaderCapture {
  #chunks: Buffer[] = [];
  #length = 0;
  #done = false;
  /** Only CRs since the last LF (or the start): the next LF ends the section. */
  #atLineStart = true;

  constructor(private readonly cap: number) {}

  add(chunk: Buffer): void {
    if (this.#done) return;
    let end = Math.min(chunk.length, this.cap - this.#length);
    for (let i = 0; i < end; i++) {
      const byte = chunk[i]!;
      if (byte === 0x0a) {
        if (this.#atLineStart) {
          end = i + 1;
          this.#done = true;
          break;
        }
        this.#atLineStart = true;
      } else if (byte !== 0x0d) {
        this.#atLineStart = false;
      }
    }
    this.#chunks.push(chunk.subarray(0, end));
    this.#length += end;
    if (this.#length >= this.cap) this.#done = true;
  }

  bytes(): Buffer {
    return Buffer.concat(this.#chunks);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Header bytes as text: UTF-8 when they are valid UTF-8 (RFC 6532), else Latin-1 (8-bit junk stays visible). */
function decodeHeaderBytes(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

// A header line can be 1 MB: these helpers are linear where the regular expressions they
// replace backtracked quadratically (a From of 1 MB without "@", or of "<<<…", took hours).

/**
 * The first address in a configured value (a login, a from-address), lower-cased: `<local@domain>`,
 * else a bare `local@domain` token — what `/<([^<>\s]+@[^<>\s]+)>/`, then
 * `/([^\s<>",;:]+@[^\s<>",;:]+)/`, matched. Not for a message's sender: it takes the last word
 * of "dan van trial@x" (resolveSender, message-sender.ts, reads those).
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

