import { randomBytes } from 'node:crypto';

/** An attachment as the tests put it into a message, and as it must come back. */
export interface TestAttachment {
  /** The Content-Disposition filename parameter exactly as written (may be RFC 2231 encoded). */
  param: string;
  /** The name mailparser decodes it to. */
  name: string;
  type: string;
  bytes: Buffer;
  inline?: boolean;
  contentId?: string;
}

const escape = '\u001b';

/**
 * The attachments of the hostile message: a PDF, an inline image, a name that climbs out of
 * the folder, a name with ESC and a right-to-left override (RFC 2231), two with one name.
 */
export function hostileAttachments(): TestAttachment[] {
  return [
    { param: 'filename="contract.pdf"', name: 'contract.pdf', type: 'application/pdf', bytes: Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(40_000)]) },
    { param: 'filename="logo.png"', name: 'logo.png', type: 'image/png', bytes: Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), randomBytes(3000)]), inline: true, contentId: 'logo-1@acme.test' },
    { param: 'filename="../../etc/passwd"', name: '../../etc/passwd', type: 'text/plain', bytes: Buffer.from('root:x:0:0:pwned:/root:/bin/sh\n') },
    { param: "filename*=UTF-8''evil%1B%5B31m%E2%80%AEfdp.exe", name: `evil${escape}[31m\u202efdp.exe`, type: 'application/octet-stream', bytes: randomBytes(999) },
    { param: 'filename="notes.txt"', name: 'notes.txt', type: 'text/plain', bytes: Buffer.from('first notes\n') },
    { param: 'filename="notes.txt"', name: 'notes.txt', type: 'text/plain', bytes: Buffer.from('second notes, different\n') },
  ];
}

/** A multipart message with `attachments`, a text body and any extra header lines (CRLF). */
export function messageWithAttachments(opts: { from: string; subject: string; messageId: string; body: string; headers?: string[]; cc?: string; attachments: TestAttachment[] }): Buffer {
  const boundary = `b-${randomBytes(6).toString('hex')}`;
  const parts = opts.attachments.map((a) => [
    `--${boundary}`,
    `Content-Type: ${a.type}`,
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: ${a.inline ? 'inline' : 'attachment'}; ${a.param}`,
    ...(a.contentId ? [`Content-ID: <${a.contentId}>`] : []),
    '',
    a.bytes.toString('base64').replace(/.{76}/g, '$&\r\n'),
  ].join('\r\n'));
  return Buffer.from([
    `From: ${opts.from}`,
    'To: contracts@acme.test',
    ...(opts.cc ? [`Cc: ${opts.cc}`] : []),
    `Subject: ${opts.subject}`,
    `Message-ID: <${opts.messageId}>`,
    'Date: Fri, 27 Nov 2026 10:00:00 +0000',
    ...(opts.headers ?? []),
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    opts.body,
    ...parts,
    `--${boundary}--`,
    '',
  ].join('\r\n'), 'utf8');
}
