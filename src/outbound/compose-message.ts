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
 * subject. nodemailer's MailComposer does the MIME work.
 */
export async function composeMessage(draft: OutboundDraft, ref: Reference, key: { id: string; bytes: Buffer }): Promise<ComposedMessage> {
  const { default: MailComposer } = await import('nodemailer/lib/mail-composer');
  const stamp = stampReference(ref, draft.subject, key.id, key.bytes);
  const composer = new MailComposer({
    from: draft.from,
    to: draft.to,
    subject: stamp.subject,
    text: draft.text,
    ...(draft.html ? { html: draft.html } : {}),
    attachments: (draft.attachments ?? []).map((a) => ({ filename: a.filename, content: a.content, ...(a.contentType ? { contentType: a.contentType } : {}) })),
    messageId: `<${stamp.messageId}>`,
    date: ref.sentAt,
    headers: { ...draft.headers, [referenceHeader]: stamp.header },
  });
  const raw = await composer.compile().build();
  return { raw, messageId: stamp.messageId, subject: stamp.subject, reference: stamp.header };
}
