import type { ParsedMessage } from './parse-message.js';

/**
 * What a mail system's notice about a message says: it could not be delivered (`bounce`), it
 * is late and still being retried (`delay`), or it arrived (`receipt`: a DSN with
 * `Action: delivered|relayed|expanded`, asked for with NOTIFY=SUCCESS).
 */
export type DeliveryNotice = 'bounce' | 'delay' | 'receipt';

/** How much of a report's text is read for its `Action:` fields (a report for 1,000 recipients is ~200 KB). */
const reportCap = 512 * 1024;

/**
 * A delivery status report (RFC 3464, `multipart/report; report-type=delivery-status`): a
 * bounce when any recipient failed, a delay when every recipient is only delayed, a receipt
 * when they were delivered. `Action:` is read from the report's `message/delivery-status`
 * part — mailparser gives it as text after the human part, or as an attachment (kept in
 * `embedded`) when it is marked as one; a report without one is a bounce, as it always was.
 */
export function reportKind(message: ParsedMessage): DeliveryNotice {
  const actions = new Set<string>();
  const fields = `${message.embedded}\n${message.text.slice(0, reportCap)}`;
  for (const match of fields.matchAll(/^Action:[ \t]*([A-Za-z]+)/gim)) actions.add(match[1]!.toLowerCase());
  if (actions.has('failed') || actions.size === 0) return 'bounce';
  if (actions.has('delayed')) return 'delay';
  return 'receipt';
}

/**
 * The subjects of the notices mail systems send as plain text (not multipart/report), and the
 * localized ones of Exchange/Office 365. Each counts at the start of the subject, followed by
 * a colon, space or the end. Sources: Postfix bounce(8) templates, qmail-send, Exim's
 * bounce_message_file and warn_message_file defaults, sendmail, Exchange/365 NDR subjects, Gmail.
 */
export const noticeSubjects: ReadonlyArray<{ phrase: string; kind: 'bounce' | 'delay' }> = [
  { phrase: 'undeliverable', kind: 'bounce' }, // Exchange/Office 365 "Undeliverable: <subject>"
  { phrase: 'undelivered mail returned to sender', kind: 'bounce' }, // Postfix
  { phrase: 'undelivered mail', kind: 'bounce' },
  { phrase: 'failure notice', kind: 'bounce' }, // qmail
  { phrase: 'mail delivery failed', kind: 'bounce' }, // Exim "Mail delivery failed: returning message to sender"
  { phrase: 'mail delivery failure', kind: 'bounce' },
  { phrase: 'delivery failure', kind: 'bounce' },
  { phrase: 'delivery status notification (failure)', kind: 'bounce' }, // Gmail, Exchange DSN text
  { phrase: 'returned mail', kind: 'bounce' }, // sendmail "Returned mail: see transcript for details"
  { phrase: 'message not delivered', kind: 'bounce' },
  { phrase: 'nondeliverable mail', kind: 'bounce' },
  { phrase: 'permanent delivery failure', kind: 'bounce' }, // MDaemon
  { phrase: 'unzustellbar', kind: 'bounce' }, // Exchange, German
  { phrase: 'non remis', kind: 'bounce' }, // French
  { phrase: 'onbestelbaar', kind: 'bounce' }, // Dutch
  { phrase: 'no se puede entregar', kind: 'bounce' }, // Spanish
  { phrase: 'non recapitabile', kind: 'bounce' }, // Italian
  { phrase: 'não é possível entregar', kind: 'bounce' }, // Portuguese
  { phrase: 'olevererbart', kind: 'bounce' }, // Swedish
  { phrase: 'kan ikke leveres', kind: 'bounce' }, // Danish, Norwegian
  { phrase: 'ei voi toimittaa', kind: 'bounce' }, // Finnish
  { phrase: 'niedostarczalne', kind: 'bounce' }, // Polish
  { phrase: 'delivery status notification (delay)', kind: 'delay' }, // Gmail, Exchange
  { phrase: 'delivery delayed', kind: 'delay' }, // Exchange/365 "Delivery delayed: <subject>"
  { phrase: 'delayed mail', kind: 'delay' }, // Postfix "Delayed Mail (still being retried)"
  { phrase: 'warning: message', kind: 'delay' }, // Exim "Warning: message 1abc-0002Xy-Q1 delayed 24 hours"
  { phrase: 'warning: could not send message', kind: 'delay' }, // sendmail "… for past 4 hours"
  { phrase: 'zustellung verzögert', kind: 'delay' }, // Exchange, German
  { phrase: 'remise différée', kind: 'delay' }, // French
  { phrase: 'vertraagde bezorging', kind: 'delay' }, // Dutch
  { phrase: 'levering vertraagd', kind: 'delay' }, // Dutch (Exchange/365)
  { phrase: 'entrega retrasada', kind: 'delay' }, // Spanish
  { phrase: 'recapito ritardato', kind: 'delay' }, // Italian
  { phrase: 'entrega atrasada', kind: 'delay' }, // Portuguese (Brazil)
  { phrase: 'entrega adiada', kind: 'delay' }, // Portuguese (Portugal)
  { phrase: 'leverans fördröjd', kind: 'delay' }, // Swedish
  { phrase: 'levering forsinket', kind: 'delay' }, // Danish, Norwegian
  { phrase: 'toimitus viivästynyt', kind: 'delay' }, // Finnish
  { phrase: 'dostarczanie opóźnione', kind: 'delay' }, // Polish
  { phrase: 'opóźnione dostarczanie', kind: 'delay' }, // Polish
];

/**
 * Words of the body that only a mail system's notice carries (the first few KB are read).
 * Sources as above; Exchange's "Delivery has failed to these recipients or groups" and 365's
 * "Your message to … couldn't be delivered".
 */
export const noticeBodies: ReadonlyArray<{ words: string; kind: 'bounce' | 'delay' }> = [
  { words: 'this is the qmail-send program', kind: 'bounce' },
  { words: 'could not be delivered to one or more of its recipients', kind: 'bounce' }, // Exim
  { words: 'your message could not be delivered to one or more recipients', kind: 'bounce' }, // Postfix
  { words: 'i\'m sorry to have to inform you that your message could not', kind: 'bounce' }, // Postfix
  { words: 'the following addresses had permanent fatal errors', kind: 'bounce' }, // sendmail
  { words: 'delivery has failed to these recipients or groups', kind: 'bounce' }, // Exchange
  { words: 'delivery to the following recipients failed', kind: 'bounce' }, // Exchange 2003
  { words: 'couldn\'t be delivered', kind: 'bounce' }, // Office 365
  { words: 'delivery to the following recipient failed permanently', kind: 'bounce' }, // Gmail
  { words: 'message wasn\'t delivered to', kind: 'bounce' }, // Gmail
  { words: 'had permanent fatal delivery errors', kind: 'bounce' }, // MDaemon
  { words: 'your mail was not delivered to any of its recipients', kind: 'bounce' }, // MDaemon
  { words: 'has not yet been delivered to one or more of its recipients', kind: 'delay' }, // Exim
  { words: 'this is a warning only', kind: 'delay' }, // Postfix
  { words: 'this is a warning message only', kind: 'delay' }, // sendmail, Gmail
  { words: 'delivery is delayed to these recipients or groups', kind: 'delay' }, // Exchange
  { words: 'delivery to the following recipients has been delayed', kind: 'delay' }, // Exchange 2003
  { words: 'delivery to the following recipient has been delayed', kind: 'delay' }, // Gmail
  { words: 'message delivery is delayed', kind: 'delay' },
  // Exchange/365's "Delivery is delayed to these recipients or groups", translated.
  { words: 'la entrega a estos destinatarios o grupos se ha retrasado', kind: 'delay' }, // Spanish
  { words: 'il recapito a questi destinatari o gruppi è in ritardo', kind: 'delay' }, // Italian
];

/** Local parts that only mail systems send from (Exchange's is "MicrosoftExchange" and 32 hex digits, MDaemon's "MDaemon"). */
const daemonLocalPart = /^(?:mailer-daemon|mailerdaemon|mail-daemon|maildaemon|mailer_daemon|mdaemon|microsoftexchange[0-9a-f]{32})$/;
/** Mail systems send notices from postmaster@ too (Exchange, 365), but a person answers there as well: a sign, not proof. */
const postmasterLocalPart = /^postmaster$/;

/** How much of the text body is searched for a notice's words. */
const bodyHead = 8 * 1024;

/**
 * True when the sender is a mail system's own address (MAILER-DAEMON and its spellings) —
 * also written unqualified, as sendmail does without a domain (`<MAILER-DAEMON>`), which is no
 * valid sender address and so only in the From header itself.
 */
export function fromMailerDaemon(message: ParsedMessage): boolean {
  if (daemonLocalPart.test(localPart(message))) return true;
  if (message.from) return false;
  const header = (message.headers.get('from') ?? '').slice(0, 1000).trim().toLowerCase();
  const bare = /<([^<>@\s]{1,64})>$/.exec(header)?.[1] ?? (/^[^<>@\s]{1,64}$/.test(header) ? header : '');
  return daemonLocalPart.test(bare);
}

function localPart(message: ParsedMessage): string {
  const from = (message.from ?? '').toLowerCase();
  return from.slice(0, Math.max(0, from.lastIndexOf('@')));
}

/** True when the envelope sender was null (`Return-Path: <>`): a notice's, though people's mail carries it too sometimes. */
export function nullReturnPath(message: ParsedMessage): boolean {
  const value = message.headers.get('return-path');
  return value !== undefined && value.replace(/\s+/g, '') === '<>';
}

/** The kind of notice the subject names, or undefined. */
export function noticeSubject(subject: string): 'bounce' | 'delay' | undefined {
  const head = subject.slice(0, 300).toLowerCase().replace(/[\s\u00a0]+/g, ' ').trim();
  let best: { phrase: string; kind: 'bounce' | 'delay' } | undefined;
  for (const entry of noticeSubjects) {
    if (!head.startsWith(entry.phrase)) continue;
    const next = head.charAt(entry.phrase.length);
    // "Undeliverable: x", "failure notice", "Delayed Mail (still …)" — not "Undeliverables list".
    if (next !== '' && !/[\s:(\-–]/.test(next)) continue;
    if (!best || entry.phrase.length > best.phrase.length) best = entry;
  }
  return best?.kind;
}

/** The kind of notice the start of the body says it is, or undefined (a failure wins over a warning). */
export function noticeBody(text: string): 'bounce' | 'delay' | undefined {
  const head = text.slice(0, bodyHead).toLowerCase().replace(/[’‘]/g, '\'').replace(/\s+/g, ' ');
  const found = noticeBodies.filter((entry) => head.includes(entry.words)).map((entry) => entry.kind);
  return found.includes('bounce') ? 'bounce' : found[0];
}

/**
 * A notice that a mail system sent as ordinary mail rather than a report: Exchange's
 * "Undeliverable:", qmail's "failure notice", Exim's "Mail delivery failed", Postfix's text
 * bounces, delay warnings. One sign is not enough — a person may write "Undeliverable parcel"
 * or send with `Return-Path: <>` — so it takes a notice's subject or body shape together with a
 * mail system's sender (MAILER-DAEMON, postmaster@) or a null return path; or both shapes
 * with the original attached (message/rfc822 or text/rfc822-headers).
 */
export function plainNotice(message: ParsedMessage): 'bounce' | 'delay' | undefined {
  const bySubject = noticeSubject(message.subject);
  const byBody = noticeBody(message.text);
  const daemon = fromMailerDaemon(message) || postmasterLocalPart.test(localPart(message));
  const nullPath = nullReturnPath(message);
  const original = message.attachments.some((a) => /^(message\/rfc822|text\/rfc822-headers|message\/delivery-status)/i.test(a.contentType));
  const machine = daemon || nullPath;
  if (bySubject && (machine || (original && byBody))) return bySubject;
  if (byBody && machine) return byBody;
  // A mail system returning a message, in words we do not know (another language, another MTA).
  if (daemon && original) return 'bounce';
  return undefined;
}
