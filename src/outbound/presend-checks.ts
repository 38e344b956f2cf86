import { UserError } from '../errors.js';
import { isEmailAddress } from '../config/globals.js';
import { approxSize, formatSize } from '../config/units.js';
import { presendExitCode } from './smtp-phase.js';
import type { OutboundDraft } from './outbound-draft.js';

export interface SizeLimits {
  maxBodySize: number;
  maxAttachmentSize: number;
}

function refuse(code: string, message: string, details: Record<string, unknown>): UserError {
  return new UserError(code, message, { exitCode: presendExitCode, details });
}

function human(bytes: number): string {
  return bytes < 1024 ? `${bytes} bytes` : `${approxSize(bytes)} (${bytes} bytes)`;
}

/**
 * The checks every message passes before it is queued or sent (the source guide's
 * "Some emails won't send"). A failure names the limit and the size; nothing is sent.
 */
export function checkDraft(draft: OutboundDraft, limits: SizeLimits): void {
  const from = draft.from.trim();
  if (from === '') {
    throw refuse('E_FROM_MISSING', 'The message has no from-address (an empty field value?), so it cannot be sent.', { from: draft.from });
  }
  if (!isEmailAddress(from)) {
    throw refuse('E_FROM_INVALID', `The from-address "${draft.from}" is not a valid email address, so the message cannot be sent.`, { from: draft.from });
  }
  if (draft.to.length === 0) throw refuse('E_TO_MISSING', 'The message has no recipient.', {});
  for (const to of draft.to) {
    if (!isEmailAddress(to.trim())) throw refuse('E_TO_INVALID', `The recipient "${to}" is not a valid email address.`, { to });
  }
  if (/[\r\n]/.test(draft.subject)) throw refuse('E_SUBJECT_INVALID', 'The subject contains a line break (header injection is refused).', {});
  const body = Buffer.byteLength(draft.text, 'utf8') + Buffer.byteLength(draft.html ?? '', 'utf8');
  if (body > limits.maxBodySize) {
    throw refuse('E_BODY_TOO_LARGE', `The body is ${human(body)}, over max_body_size ${formatSize(limits.maxBodySize)}; nothing was sent.`, { size: body, limit: limits.maxBodySize });
  }
  const attachments = (draft.attachments ?? []).reduce((sum, a) => sum + a.content.length, 0);
  if (attachments > limits.maxAttachmentSize) {
    throw refuse(
      'E_ATTACHMENTS_TOO_LARGE',
      `The attachments are ${human(attachments)} together, over max_attachment_size ${formatSize(limits.maxAttachmentSize)}; nothing was sent.`,
      { size: attachments, limit: limits.maxAttachmentSize },
    );
  }
}

/** The server's advertised SIZE (0 = none) against the built message. */
export function checkServerSize(messageBytes: number, serverMaxSize: number): void {
  if (serverMaxSize > 0 && messageBytes > serverMaxSize) {
    throw refuse('E_SERVER_SIZE', `The message is ${human(messageBytes)}, over the server's SIZE limit of ${human(serverMaxSize)}; nothing was sent.`, {
      size: messageBytes,
      limit: serverMaxSize,
    });
  }
}
