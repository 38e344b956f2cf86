import { createHash, randomBytes } from 'node:crypto';

/** An attachment as the test attached it: what mailctl must keep, and the SHA-256 of its exact bytes. */
export interface ExpectedAttachment {
  filename: string | null;
  contentType: string;
  contentId: string | null;
  inline: boolean;
  size: number;
  sha256: string;
}

/** A message built by the test, with the attachments a reader of it must get back byte for byte. */
export interface RichMessage {
  name: string;
  messageId: string;
  raw: Buffer;
  /** Words of its body, as a reader sees them (in the text, or the HTML shown as text). */
  says: string;
  attachments: ExpectedAttachment[];
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** Base64 in 76-character lines, as mailers write it. */
function base64Lines(data: Buffer): string {
  const text = data.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += 76) lines.push(text.slice(i, i + 76));
  return lines.join('\r\n');
}

function expected(bytes: Buffer, meta: Omit<ExpectedAttachment, 'size' | 'sha256'>): ExpectedAttachment {
  return { ...meta, size: bytes.length, sha256: sha256(bytes) };
}

function head(opts: { from: string; subject: string; messageId: string; contentType: string; extra?: string[] }): string[] {
  return [
    `From: ${opts.from}`,
    'To: contracts@acme.test',
    `Subject: ${opts.subject}`,
    `Message-ID: <${opts.messageId}>`,
    'Date: Fri, 27 Nov 2026 10:00:00 +0000',
    'MIME-Version: 1.0',
    ...(opts.extra ?? []),
    `Content-Type: ${opts.contentType}`,
  ];
}

/** Bytes that look like a PDF (header, binary body, trailer): random, so they do not compress. */
export function fakePdf(bytes: number): Buffer {
  return Buffer.concat([Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1'), randomBytes(Math.max(0, bytes - 40)), Buffer.from('\n%%EOF\n')]);
}

/** A text body with a PDF attached (multipart/mixed, base64). */
export function pdfMessage(tag: string, pdfBytes = 48 * 1024): RichMessage {
  const pdf = fakePdf(pdfBytes);
  const messageId = `pdf-${tag}@partner.test`;
  const raw = [
    ...head({ from: 'Lee Partner <lee@partner.test>', subject: `Signed contract ${tag}`, messageId, contentType: 'multipart/mixed; boundary="mix-1"' }),
    '',
    '--mix-1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Please find the signed contract ${tag} attached.`,
    '--mix-1',
    `Content-Type: application/pdf; name="contract-${tag}.pdf"`,
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="contract-${tag}.pdf"`,
    '',
    base64Lines(pdf),
    '--mix-1--',
    '',
  ].join('\r\n');
  return { name: 'pdf', messageId, raw: Buffer.from(raw), says: `Please find the signed contract ${tag} attached.`, attachments: [expected(pdf, { filename: `contract-${tag}.pdf`, contentType: 'application/pdf', contentId: null, inline: false })] };
}

/** An HTML body showing an image by `cid:` (multipart/related, the image with a Content-ID). */
export function inlineImageMessage(tag: string): RichMessage {
  const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(6 * 1024)]);
  const cid = `logo-${tag}@partner.test`;
  const messageId = `inline-${tag}@partner.test`;
  const raw = [
    ...head({ from: 'Lee Partner <lee@partner.test>', subject: `Our new logo ${tag}`, messageId, contentType: 'multipart/related; type="text/html"; boundary="rel-1"' }),
    '',
    '--rel-1',
    'Content-Type: text/html; charset=utf-8',
    '',
    `<html><body><p>Here is the logo ${tag}:</p><img src="cid:${cid}" alt="logo"></body></html>`,
    '--rel-1',
    'Content-Type: image/png',
    'Content-Transfer-Encoding: base64',
    `Content-ID: <${cid}>`,
    'Content-Disposition: inline; filename="logo.png"',
    '',
    base64Lines(png),
    '--rel-1--',
    '',
  ].join('\r\n');
  return { name: 'inline image', messageId, raw: Buffer.from(raw), says: `Here is the logo ${tag}:`, attachments: [expected(png, { filename: 'logo.png', contentType: 'image/png', contentId: cid, inline: true })] };
}

/**
 * A forward: a text body and the original message attached as message/rfc822, which carries a
 * PDF of its own. The attachment is the whole inner message, byte for byte (its PDF stays inside it).
 */
export function nestedMessage(tag: string): RichMessage {
  const innerPdf = fakePdf(12 * 1024);
  const inner = [
    ...head({ from: 'Supplier <sales@supplier.test>', subject: `Quote ${tag}`, messageId: `quote-${tag}@supplier.test`, contentType: 'multipart/mixed; boundary="inner-1"' }),
    '',
    '--inner-1',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    `Our quote ${tag}, valid for 30 days. Grüße.`,
    '--inner-1',
    'Content-Type: application/pdf',
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="quote-${tag}.pdf"`,
    '',
    base64Lines(innerPdf),
    '--inner-1--',
    '',
  ].join('\r\n');
  const messageId = `fwd-${tag}@partner.test`;
  const raw = [
    ...head({ from: 'Lee Partner <lee@partner.test>', subject: `Fwd: Quote ${tag}`, messageId, contentType: 'multipart/mixed; boundary="outer-1"' }),
    '',
    '--outer-1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Forwarding the supplier quote.',
    '--outer-1',
    'Content-Type: message/rfc822',
    `Content-Disposition: attachment; filename="quote-${tag}.eml"`,
    '',
    inner,
    '--outer-1--',
    '',
  ].join('\r\n');
  return { name: 'nested message/rfc822', messageId, raw: Buffer.from(raw), says: 'Forwarding the supplier quote.', attachments: [expected(Buffer.from(inner), { filename: `quote-${tag}.eml`, contentType: 'message/rfc822', contentId: null, inline: false })] };
}

/** A scan of `attachmentBytes` (decoded; random, so it does not compress): the message is a third bigger. */
export function bigAttachmentMessage(tag: string, attachmentBytes = 25 * 1024 * 1024): RichMessage {
  const scan = fakePdf(attachmentBytes);
  const messageId = `big-${tag}@partner.test`;
  const before = [
    ...head({ from: 'Lee Partner <lee@partner.test>', subject: `Scanned archive ${tag}`, messageId, contentType: 'multipart/mixed; boundary="big-1"' }),
    '',
    '--big-1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'The scanned archive, 25 MB.',
    '--big-1',
    'Content-Type: application/pdf',
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="archive-${tag}.pdf"`,
    '',
    '',
  ].join('\r\n');
  const raw = Buffer.concat([Buffer.from(before), Buffer.from(base64Lines(scan)), Buffer.from('\r\n--big-1--\r\n')]);
  return { name: '25 MB attachment', messageId, raw, says: 'The scanned archive, 25 MB.', attachments: [expected(scan, { filename: `archive-${tag}.pdf`, contentType: 'application/pdf', contentId: null, inline: false })] };
}
