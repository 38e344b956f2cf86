import { autoReplyLabel } from './auto-reply-subjects.js';
import { fromMailerDaemon, nullReturnPath, plainNotice, reportKind } from './delivery-notice.js';
import type { ParsedMessage } from './parse-message.js';

/** `delay`: a mail system says our message is late, not lost (RFC 3464 `Action: delayed`). */
export type AutomaticKind = 'bounce' | 'delay' | 'auto-reply' | 'list';

/**
 * Mail no person wrote: it never creates records, never adds notes and never triggers mail,
 * or two systems would answer each other forever. In this order:
 * - delivery status reports (RFC 3464/6522 multipart/report) and the notices mail systems send
 *   as plain text (delivery-notice.ts): bounces, delays; other reports (read receipts, RFC
 *   8098; abuse reports, RFC 5965) are a machine's answer too;
 * - RFC 3834 `Auto-Submitted` other than "no"; `X-Autoreply`, `X-Autorespond`
 *   (vacation programs before RFC 3834); `Precedence: auto_reply`;
 * - an auto-reply's subject (auto-reply-subjects.ts) beside a sign of generated mail — people
 *   write "Auto-reply: please switch it off" or "Abwesenheitsnotiz: bitte einrichten" too, so
 *   a label alone proves nothing (only Exchange 2003's "Out of Office AutoReply:" is enough by
 *   itself). Signs: `X-Auto-Response-Suppress` (Exchange/Outlook set it on their auto-replies,
 *   but also on ordinary mail, so it proves nothing alone), Exchange's inbox-rule loop header,
 *   `Precedence: bulk|junk|list`, or a null `Return-Path` (RFC 3834 §3.3 asks responders for
 *   one; alone it is a person's message sent through an odd relay, not a bounce). After a
 *   reply prefix ("Re: Automatic reply: …", a person answering an auto-reply, from a client
 *   that may well set `X-Auto-Response-Suppress`) only the strong signs count: a null
 *   Return-Path, the loop header or Precedence;
 * - `X-Loop`; then bulk and list mail (`Precedence: bulk|junk|list`, RFC 2369/2919 List-*).
 */
export function automaticKind(message: ParsedMessage): AutomaticKind | null {
  const h = message.headers;
  const contentType = h.get('content-type') ?? '';
  if (/multipart\/report/i.test(contentType)) {
    if (!/report-type="?delivery-status/i.test(contentType)) return 'auto-reply';
    const kind = reportKind(message);
    return kind === 'receipt' ? 'auto-reply' : kind;
  }
  if (message.attachments.some((a) => /^message\/delivery-status/i.test(a.contentType))) {
    const kind = reportKind(message);
    return kind === 'receipt' ? 'auto-reply' : kind;
  }
  const notice = plainNotice(message);
  if (notice) return notice;
  // Nobody writes from MAILER-DAEMON: a notice in words we do not know.
  if (fromMailerDaemon(message)) return 'bounce';
  const autoSubmitted = (h.get('auto-submitted') ?? 'no').trim().toLowerCase();
  if (autoSubmitted !== 'no' && autoSubmitted !== '') return 'auto-reply';
  if (h.get('x-autoreply') || h.get('x-autorespond')) return 'auto-reply';
  const precedence = (h.get('precedence') ?? '').trim().toLowerCase();
  if (precedence === 'auto_reply') return 'auto-reply';
  const label = autoReplyLabel(message.subject);
  if (label && (label.replied ? strongHint(message) : label.entry.alone || weakHint(message) || strongHint(message))) return 'auto-reply';
  if (h.get('x-loop')) return 'auto-reply';
  if (precedence === 'bulk' || precedence === 'junk' || precedence === 'list') return 'list';
  if (h.get('list-id') || h.get('list-unsubscribe') || h.get('list-post')) return 'list';
  return null;
}

/** A sign that a message was generated that a person's client sets too (see automaticKind). */
function weakHint(message: ParsedMessage): boolean {
  return message.headers.get('x-auto-response-suppress') !== undefined;
}

/** A sign that a message was generated that people's mail seldom carries, still not enough by itself (see automaticKind). */
function strongHint(message: ParsedMessage): boolean {
  const h = message.headers;
  const precedence = (h.get('precedence') ?? '').trim().toLowerCase();
  return h.get('x-ms-exchange-inbox-rules-loop') !== undefined || nullReturnPath(message) || precedence === 'bulk' || precedence === 'junk' || precedence === 'list';
}
