import { randomBytes } from 'node:crypto';

/** What a message is made of; every text is Unicode, the builder does the encoding. */
export interface MimeParts {
  from: string;
  to: string[];
  subject: string;
  date: Date;
  /** Without angle brackets. */
  messageId: string;
  text: string;
  html?: string | undefined;
  attachments?: ReadonlyArray<{ filename: string; content: Buffer; contentType?: string | undefined }> | undefined;
  /** Extra headers, in order (names as given). */
  headers?: Record<string, string> | undefined;
}

const crlf = '\r\n';
const nonAscii = /[^\x20-\x7e]/;

/** A header value can never carry a line break (header injection): line ends become spaces. */
function oneLine(value: string): string {
  return value.replace(/[\r\n\0]+/g, ' ');
}

/**
 * RFC 2047 encoded-words (B, UTF-8) for text with non-ASCII (or always, with `force`), split
 * on character boundaries so each word stays under 75 characters.
 */
export function encodeWords(value: string, force = false): string {
  const text = oneLine(value);
  if (!force && !nonAscii.test(text)) return text;
  const words: string[] = [];
  let chunk = '';
  for (const ch of text) {
    if (Buffer.byteLength(chunk + ch, 'utf8') > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join(`${crlf} `);
}

/** "Name <addr>" or "addr", with the display name quoted or encoded as it needs. */
export function formatAddress(input: string): string {
  const m = /^\s*(.*?)\s*<([^<>]+)>\s*$/.exec(oneLine(input));
  if (!m) return oneLine(input).trim();
  const name = m[1]!.replace(/^"(.*)"$/, '$1');
  const address = m[2]!.trim();
  if (!name) return address;
  // A long name is encoded too: encoded-words can be folded, a quoted string cannot.
  if (nonAscii.test(name) || name.length > maxFoldedLine) return `${encodeWords(name, true)} <${address}>`;
  return /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+$/.test(name) ? `${name} <${address}>` : `"${name.replace(/(["\\])/g, '\\$1')}" <${address}>`;
}

/** RFC 5322 §2.1.1: a line must not exceed 998 characters (without CRLF) and should not exceed 78. */
const maxLine = 998;
const maxFoldedLine = 78;

/**
 * One header field whose every line fits in 998 characters (RFC 5322 §2.1.1), whatever its
 * value: a field that fits stays as it is; a longer one is folded before white space into lines
 * of about 78 (unfolding, §2.2.3, gives the value back exactly). A value with a run of text
 * too long to fold there is given as encoded-words (RFC 2047), which fold anywhere — for an
 * unstructured field (`encodable`); a structured one that still does not fit is a bug of ours.
 */
export function headerField(name: string, value: string, options: { encodable?: boolean } = {}): string {
  const field = `${name}: ${value}`;
  if (field.split(crlf).every((line) => line.length <= maxLine)) return field;
  const folded = foldAtSpaces(field);
  if (folded) return folded;
  if (options.encodable) {
    const encoded = foldAtSpaces(`${name}: ${encodeWords(value.replace(/\r\n /g, ' '), true).replace(/\r\n /g, ' ')}`);
    if (encoded) return encoded;
  }
  throw new Error(`the ${name} header cannot be folded into lines of at most ${maxLine} characters`);
}

/** The field folded before spaces into lines of about 78, or undefined when a run of text is longer than 998. */
function foldAtSpaces(field: string): string | undefined {
  const words = field.replace(/\r\n /g, ' ').split(' ');
  const lines: string[] = [];
  // The field name keeps its first word beside it.
  let line = words.slice(0, 2).join(' ');
  for (const word of words.slice(2)) {
    if (line.length + 1 + word.length > maxFoldedLine && line.trim() !== '') {
      lines.push(line);
      line = ` ${word}`;
    } else {
      line += ` ${word}`;
    }
  }
  lines.push(line);
  return lines.every((l) => l.length <= maxLine) ? lines.join(crlf) : undefined;
}

/** RFC 5322 date-time in UTC ("Fri, 27 Nov 2026 10:00:00 +0000"). */
export function formatDate(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

function base64Lines(content: Buffer): string {
  const b64 = content.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return lines.join(crlf);
}

/** A text part: 7bit when it is plain ASCII with short lines, else base64. */
function textPart(body: string, subtype: 'plain' | 'html'): string {
  const normalized = body.replace(/\r?\n/g, crlf);
  const plain = !nonAscii.test(normalized.replace(/\r\n/g, '')) && normalized.split(crlf).every((l) => l.length <= 998);
  const type = `Content-Type: text/${subtype}; charset=utf-8`;
  return plain
    ? `${type}${crlf}Content-Transfer-Encoding: 7bit${crlf}${crlf}${normalized}`
    : `${type}${crlf}Content-Transfer-Encoding: base64${crlf}${crlf}${base64Lines(Buffer.from(normalized, 'utf8'))}`;
}

const contentTypes: Record<string, string> = {
  pdf: 'application/pdf', txt: 'text/plain', csv: 'text/csv', html: 'text/html', htm: 'text/html', json: 'application/json', xml: 'application/xml',
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', zip: 'application/zip', eml: 'message/rfc822',
  doc: 'application/msword', docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel', xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

/** A filename parameter: plain when it can be, else RFC 2231 (filename*=utf-8''…). */
function filenameParam(name: string): string {
  const clean = oneLine(name).replace(/[\\/]/g, '_');
  if (!nonAscii.test(clean) && !/["\\]/.test(clean)) return `filename="${clean}"`;
  return `filename*=utf-8''${encodeURIComponent(clean).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

/** The Content-Type an attachment goes out with: the one given, else one known for its extension, else application/octet-stream. */
export function attachmentContentType(filename: string, contentType?: string): string {
  const ext = /\.([A-Za-z0-9]+)$/.exec(filename)?.[1]?.toLowerCase() ?? '';
  // An .eml is attached as bytes: base64 inside message/rfc822 is not allowed (RFC 2046 5.2.1).
  return oneLine(contentType ?? (ext === 'eml' ? 'application/octet-stream' : contentTypes[ext] ?? 'application/octet-stream'));
}

/** An attachment's part header, up to and with the empty line before its base64 lines. */
function attachmentHeader(a: { filename: string; contentType?: string | undefined }): string {
  const type = attachmentContentType(a.filename, a.contentType);
  const param = filenameParam(a.filename);
  return `Content-Type: ${type}; ${param.replace('filename', 'name')}${crlf}Content-Transfer-Encoding: base64${crlf}Content-Disposition: attachment; ${param}${crlf}${crlf}`;
}

function boundary(): string {
  return `--_mailctl_${randomBytes(12).toString('hex')}`;
}

function multipart(subtype: 'mixed' | 'alternative', parts: string[]): string {
  const b = boundary();
  return `Content-Type: multipart/${subtype}; boundary="${b}"${crlf}${crlf}${parts.map((p) => `--${b}${crlf}${p}${crlf}`).join('')}--${b}--${crlf}`;
}

/** An attachment's place in a message's layout: its base64 lines go there. */
export interface AttachmentSlot {
  attachment: number;
}

/**
 * The message as text with a slot for each attachment's base64 lines (without a line break
 * after the last line): `buildMime` fills the slots from memory, `streamMime` from a stream.
 * The header block always ends inside the first text.
 */
export function mimeLayout(parts: MimeParts | StreamedMimeParts): Array<string | AttachmentSlot> {
  // Every field through headerField: no line over 998 characters, whatever a subject, a list of
  // recipients or an extra header holds (the Message-ID's length is the composer's to bound).
  const headers: string[] = [
    headerField('From', formatAddress(parts.from)),
    headerField('To', parts.to.map(formatAddress).join(', ')),
    headerField('Subject', encodeWords(parts.subject), { encodable: true }),
    `Date: ${formatDate(parts.date)}`,
    headerField('Message-ID', `<${oneLine(parts.messageId)}>`),
    ...Object.entries(parts.headers ?? {}).map(([name, value]) => headerField(name.replace(/[^A-Za-z0-9-]/g, ''), encodeWords(value), { encodable: true })),
    'MIME-Version: 1.0',
  ];
  const body = parts.html ? multipart('alternative', [textPart(parts.text, 'plain'), textPart(parts.html, 'html')]) : textPart(parts.text, 'plain');
  const attachments = parts.attachments ?? [];
  const layout: Array<string | AttachmentSlot> = [];
  let text = `${headers.join(crlf)}${crlf}`;
  if (attachments.length === 0) return [`${text}${body.endsWith(crlf) ? body : body + crlf}`];
  const b = boundary();
  text += `Content-Type: multipart/mixed; boundary="${b}"${crlf}${crlf}--${b}${crlf}${body}${crlf}`;
  attachments.forEach((a, i) => {
    layout.push(`${text}--${b}${crlf}${attachmentHeader(a)}`, { attachment: i });
    text = crlf;
  });
  layout.push(`${text}--${b}--${crlf}`);
  return layout;
}

/**
 * Builds the RFC 5322 / MIME message in one pass (no streams): the work a records system's
 * mail needs (text, optional HTML, attachments, Unicode everywhere) without loading a
 * general-purpose composer at every start of test-send or for every queued message.
 */
export function buildMime(parts: MimeParts): Buffer {
  const attachments = parts.attachments ?? [];
  return Buffer.from(mimeLayout(parts).map((piece) => (typeof piece === 'string' ? piece : base64Lines(attachments[piece.attachment]!.content))).join(''), 'utf8');
}

/** As MimeParts, with each attachment read as a stream when its turn comes (from the message store). */
export interface StreamedMimeParts extends Omit<MimeParts, 'attachments'> {
  attachments?: ReadonlyArray<{ filename: string; contentType?: string | undefined; open: () => Promise<AsyncIterable<Buffer>> }> | undefined;
}

/** Bytes of input per base64 line: 57 bytes are 76 characters (RFC 2045 §6.8). */
const lineBytes = 57;
/** Base64 lines encoded at a time. */
const linesPerChunk = 1024;

/**
 * The same message as `buildMime`, streamed from its layout (`mimeLayout(parts)`): attachments
 * are opened one at a time and base64-encoded as they are read, so a message with a 25 MB
 * attachment costs a few hundred KB of memory, not the attachment and its encoding.
 */
export async function* streamMime(layout: ReadonlyArray<string | AttachmentSlot>, parts: StreamedMimeParts): AsyncGenerator<Buffer> {
  const attachments = parts.attachments ?? [];
  for (const piece of layout) {
    if (typeof piece === 'string') {
      yield Buffer.from(piece, 'utf8');
      continue;
    }
    let carry = Buffer.alloc(0);
    let first = true;
    const encode = (bytes: Buffer): Buffer => {
      const lines: string[] = [];
      for (let i = 0; i < bytes.length; i += lineBytes) lines.push(bytes.subarray(i, i + lineBytes).toString('base64'));
      const text = (first ? '' : crlf) + lines.join(crlf);
      first = false;
      return Buffer.from(text, 'latin1');
    };
    for await (const chunk of await attachments[piece.attachment]!.open()) {
      let data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      const whole = data.length - (data.length % lineBytes);
      for (let at = 0; at < whole; at += lineBytes * linesPerChunk) yield encode(data.subarray(at, Math.min(whole, at + lineBytes * linesPerChunk)));
      carry = Buffer.from(data.subarray(whole));
      data = Buffer.alloc(0);
    }
    if (carry.length > 0) yield encode(carry);
  }
}
