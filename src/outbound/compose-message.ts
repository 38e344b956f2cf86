import { randomBytes } from 'node:crypto';
import { buildMime, mimeLayout, streamMime, type StreamedMimeParts } from '../mime/build-mime.js';
import type { Reference } from '../refs/reference-codec.js';
import { referenceHeader, stampReference } from '../refs/stamp-reference.js';
import type { OutboundDraft } from './outbound-draft.js';

export interface ComposedMessage {
  raw: Buffer;
  messageId: string;
  subject: string;
  /** The X-Mailctl-Ref value (for the communication row). */
  reference: string;
}

/**
 * The longest Message-ID (without angle brackets) that carries the full reference: with
 * "Message-ID: <" and ">" the line stays within RFC 5322's 998 characters. A msg-id cannot be
 * folded (§3.6.4), so a longer token (a long rule id, KB URL or table name in it) gives a plain
 * Message-ID instead; the X-Mailctl-Ref header (folded) and the subject token still carry it.
 */
const maxMessageIdLength = 998 - 'Message-ID: <>'.length;

/** The reference header's value in pieces of 76 between spaces when it is long: folded there, read back whole (find-reference drops white space). */
function foldableToken(token: string): string {
  return token.length <= 900 ? token : (token.match(/.{1,76}/g) ?? []).join(' ');
}

/** The stamp's Message-ID when it fits on its line, else a plain one at the same domain (see maxMessageIdLength). */
function messageIdFor(stamped: string): string {
  return stamped.length <= maxMessageIdLength ? stamped : `mailctl.${randomBytes(12).toString('hex')}@${stamped.slice(stamped.lastIndexOf('@') + 1)}`;
}

/**
 * Builds the RFC 5322 message with the reference in the header, the Message-ID and the
 * subject. Our one-pass builder does the MIME work: nodemailer's MailComposer cost ~60 ms
 * of module loading per test-send and a stream pipeline per queued message.
 */
export async function composeMessage(draft: OutboundDraft, ref: Reference, key: { id: string; bytes: Buffer }): Promise<ComposedMessage> {
  const { parts, stamp } = stamped(draft, ref, key);
  const raw = buildMime(parts);
  return { raw, messageId: parts.messageId, subject: stamp.subject, reference: stamp.header };
}

/** The draft's MIME parts with the reference stamped into subject, Message-ID and header: one place for both composers. */
function stamped<A>(draft: Omit<OutboundDraft, 'attachments'> & { attachments?: A }, ref: Reference, key: { id: string; bytes: Buffer }) {
  const stamp = stampReference(ref, draft.subject, key.id, key.bytes);
  const parts = {
    from: draft.from,
    to: draft.to,
    subject: stamp.subject,
    date: ref.sentAt,
    messageId: messageIdFor(stamp.messageId),
    text: draft.text,
    html: draft.html,
    attachments: draft.attachments,
    headers: { ...draft.headers, [referenceHeader]: foldableToken(stamp.header) },
  };
  return { parts, stamp };
}

/** A message composed as a stream: its bytes come as they are read (attachments from the store). */
export interface StreamedMessage {
  content: AsyncIterable<Buffer>;
  /** The header block, up to and with its empty line. */
  headers: string;
  messageId: string;
  subject: string;
  reference: string;
}

/**
 * As composeMessage, for a draft whose attachments are read when their turn comes: what the
 * daemon sends, so a queued message with a 25 MB attachment is never held whole in memory.
 */
export function composeStreamedMessage(draft: Omit<OutboundDraft, 'attachments'> & { attachments: NonNullable<StreamedMimeParts['attachments']> }, ref: Reference, key: { id: string; bytes: Buffer }): StreamedMessage {
  const { parts, stamp } = stamped(draft, ref, key);
  const layout = mimeLayout(parts);
  const first = layout[0] as string;
  const end = first.indexOf('\r\n\r\n');
  return { content: streamMime(layout, parts), headers: end < 0 ? first : first.slice(0, end + 4), messageId: parts.messageId, subject: stamp.subject, reference: stamp.header };
}
