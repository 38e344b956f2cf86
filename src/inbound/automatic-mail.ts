import type { ParsedMessage } from './parse-message.js';

export type AutomaticKind = 'bounce' | 'auto-reply' | 'list';

/**
 * Mail no person wrote (RFC 3834 Auto-Submitted, Precedence, X-Loop, list headers, delivery
 * status reports): it never creates records and never triggers mail, or two systems
 * would answer each other forever.
 */
export function automaticKind(message: ParsedMessage): AutomaticKind | null {
  const h = message.headers;
  const contentType = h.get('content-type') ?? '';
  const from = message.from ?? '';
  if (/multipart\/report/i.test(contentType) && /report-type="?delivery-status/i.test(contentType)) return 'bounce';
  // Any other report (a read receipt, RFC 8098's disposition-notification; an abuse report,
  // RFC 5965's feedback-report) is a machine's answer too, whether or not it says Auto-Submitted.
  if (/multipart\/report/i.test(contentType)) return 'auto-reply';
  if (/^(mailer-daemon|postmaster)@/i.test(from) || /^<\s*>$/.test((h.get('return-path') ?? '').trim())) return 'bounce';
  if (message.attachments.some((a) => /message\/delivery-status/i.test(a.contentType))) return 'bounce';
  const autoSubmitted = (h.get('auto-submitted') ?? 'no').toLowerCase();
  if (autoSubmitted !== 'no' && autoSubmitted !== '') return 'auto-reply';
  if (h.get('x-autoreply') || h.get('x-autorespond') || /^(auto[- ]?reply|out of office|automatic reply|abwesenheit)/i.test(message.subject)) return 'auto-reply';
  if (/^(auto_reply|autoreply)$/i.test(h.get('x-auto-response-suppress') ?? '')) return 'auto-reply';
  if (h.get('x-loop')) return 'auto-reply';
  const precedence = (h.get('precedence') ?? '').toLowerCase();
  if (precedence === 'bulk' || precedence === 'junk' || precedence === 'list') return 'list';
  if (h.get('list-id') || h.get('list-unsubscribe') || h.get('list-post')) return 'list';
  return null;
}
