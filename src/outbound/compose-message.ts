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
 * Builds the RFC 5322 message with the reference in the header, the Message-ID and the
 * subject. Our one-pass builder does the MIME work: nodemailer's MailComposer cost ~60 ms
 * of module loading per test-send and a stream pipeline per queued message.
 */
export async function composeMessage(draft: OutboundDraft, ref: Reference, key: { id: string; bytes: Buffer }): Promise<ComposedMessage> {
  const stamp = stampReference(ref, draft.subject, key.id, key.bytes);
  const raw = buildMime({
    from: draft.from,
    to: draft.to,
    subject: stamp.subject,
    date: ref.sentAt,
    messageId: stamp.messageId,
    text: draft.text,
    html: draft.html,
    attachments: draft.attachments,
    headers: { ...draft.headers, [referenceHeader]: stamp.header },
  });
  return { raw, messageId: stamp.messageId, subject: stamp.subject, reference: stamp.header };
}
