import { randomBytes } from 'node:crypto';
import { buildMime } from '../mime/build-mime.js';
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

/**
 * Builds the RFC 5322 message with the reference in the header, the Message-ID and the
 * subject. Our one-pass builder does the MIME work: nodemailer's MailComposer cost ~60 ms
 * of module loading per test-send and a stream pipeline per queued message.
 */
export async function composeMessage(draft: OutboundDraft, ref: Reference, key: { id: string; bytes: Buffer }): Promise<ComposedMessage> {
  const stamp = stampReference(ref, draft.subject, key.id, key.bytes);
  const messageId = stamp.messageId.length <= maxMessageIdLength ? stamp.messageId : `mailctl.${randomBytes(12).toString('hex')}@${stamp.messageId.slice(stamp.messageId.lastIndexOf('@') + 1)}`;
  const raw = buildMime({
    from: draft.from,
    to: draft.to,
    subject: stamp.subject,
    date: ref.sentAt,
    messageId,
    text: draft.text,
    html: draft.html,
    attachments: draft.attachments,
    headers: { ...draft.headers, [referenceHeader]: foldableToken(stamp.header) },
  });
  return { raw, messageId, subject: stamp.subject, reference: stamp.header };
}
