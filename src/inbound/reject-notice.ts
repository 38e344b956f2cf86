import type { MailctlConfig } from '../config/config-schema.js';
import { isEmailAddress } from '../config/globals.js';
import { formatDuration } from '../config/units.js';
import { addressIn } from './parse-message.js';

/** What the notice to a rejected sender may be: from whom, how often, and never to whom. */
export interface NoticePolicy {
  /** The notice's From (the outbound server's from-address); without it no notice is sent. */
  from: string | undefined;
  /** At most one notice per recipient in this many milliseconds (reject_notice_interval). */
  intervalMs: number;
  /** The KB's own addresses, lower case: mail "from" them never gets a notice (it would be sent to ourselves). */
  ownAddresses: readonly string[];
  /** At most this many notices in all per hour (whatever the recipients): a bound on backscatter. */
  maxPerHour?: number;
}

/**
 * At most this many notices per hour in all: a forger can name a new victim in every message
 * (each its own recipient for the per-recipient interval), so the per-recipient rule alone
 * lets the KB be used to mail thousands of people.
 */
export const noticesPerHour = 30;

export type NoticePlan =
  | { send: true; to: string; subject: string; body: string }
  | { send: false; why: string };

/** The longest part of a rejected subject a notice quotes. */
const quoteMax = 60;

/**
 * The KB's own addresses, lower case: the outbound from-address and login, and every inbound
 * account's login and Graph mailbox (those that are addresses).
 */
export function ownAddresses(config: MailctlConfig): string[] {
  const auth = config.outbound?.auth;
  const candidates = [config.outbound?.from, auth && auth.type !== 'none' ? auth.username : undefined];
  for (const account of Object.values(config.inbound ?? {})) candidates.push(account.auth.username, account.mailbox);
  return [...new Set(candidates.map((c) => (c ? addressIn(c) : null)).filter((a): a is string => a !== null))];
}

/**
 * Whether a rejected sender gets a notice, and its text. Never to the KB's own addresses (a
 * forged message "from" the KB itself answered itself on every poll), never twice within
 * `intervalMs` to one address (`lastNoticeAt`: when the last notice to it was queued, if within
 * the interval; RFC 3834 §2 recommends 7 days), and never quoting more than 60 characters of the
 * sender's subject — only in the body, without control or direction characters — so a forged
 * sender cannot use the KB to deliver its text to a victim (backscatter).
 */
export function planRejectNotice(input: {
  policy: NoticePolicy; sender: string | null; subject: string; table: string; lastNoticeAt: (mailbox: string) => string | undefined; noticesInLastHour?: () => number;
  /** Why the message's sender is invalid (message-sender.ts), when it is: no notice then. */
  senderInvalid?: string | null;
  /** The message is automatic mail (RFC 3834 §2: never answered automatically). */
  automatic?: boolean;
  /** The message came with `Return-Path: <>` (RFC 3834 §2: never answered). */
  nullReturnPath?: boolean;
}): NoticePlan {
  const { policy, sender } = input;
  if (!policy.from) return { send: false, why: 'no outbound from-address to send a notice from' };
  if (input.automatic) return { send: false, why: 'no notice: the message is automatic mail' };
  if (input.senderInvalid) return { send: false, why: `no notice: ${input.senderInvalid}` };
  if (!sender) return { send: false, why: 'the sender has no address' };
  // RFC 3834 §2: no response to a message whose Return-Path is null (a responder's, or a mail
  // system's); it is still taken as a person's message, only never answered.
  if (input.nullReturnPath) return { send: false, why: 'no notice: the message has a null Return-Path (RFC 3834 §2)' };
  if (!isEmailAddress(sender) || !isPlainMailbox(sender)) return { send: false, why: 'no notice: the sender\'s address is not one mail can be sent to' };
  const mailbox = mailboxOf(sender);
  const own = [...policy.ownAddresses, addressIn(policy.from) ?? ''].some((a) => a && mailboxOf(a) === mailbox);
  if (own) return { send: false, why: `no notice: ${sender} is this KB's own address` };
  const last = input.lastNoticeAt(mailbox);
  if (last) return { send: false, why: `no notice: ${mailbox} was sent one at ${last} (at most one per reject_notice_interval ${formatDuration(policy.intervalMs)})` };
  const cap = policy.maxPerHour ?? noticesPerHour;
  if ((input.noticesInLastHour?.() ?? 0) >= cap) return { send: false, why: `no notice: ${cap} notices went out in the last hour, the most mailctl sends (a bound on backscatter)` };
  const quoted = quoteSubject(input.subject);
  return {
    send: true,
    to: sender,
    subject: `Not accepted: your message to ${input.table}`,
    body: `Your message${quoted ? ` "${quoted}"` : ''} to ${input.table} was not accepted: this address takes mail only from known contacts or as a reply to our messages.\n\nThis notice was sent automatically; you get at most one every ${formatDuration(policy.intervalMs)}.`,
  };
}

/** At most 60 characters of a subject, on one line, without control, format (bidi, zero-width) or our notices' prefix. */
export function quoteSubject(subject: string): string {
  const clean = subject.slice(0, 4 * quoteMax)
    .replace(/\u001b\[[0-9;?]*[ -\/]*[@-~]/g, '') // terminal escape sequences whole, not only their ESC
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .replace(/^(\s*not accepted:)+/i, '')
    .trim();
  const chars = [...clean];
  return chars.length > quoteMax ? `${chars.slice(0, quoteMax - 1).join('').trimEnd()}…` : clean;
}

/**
 * The mailbox an address reaches, as the notice limits count it: lower case, the domain
 * without a trailing dot, and the local part without a "+tag" (sub-addressing, RFC 5233: most
 * providers deliver victim+1@ and victim+2@ to victim@, so a forger could otherwise get one
 * notice per tag to the same person, or make the KB answer its own kb+x@ address).
 */
export function mailboxOf(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 0) return address.toLowerCase();
  const local = address.slice(0, at).toLowerCase();
  const domain = address.slice(at + 1).toLowerCase().replace(/\.+$/, '');
  const plus = local.indexOf('+');
  return `${plus > 0 ? local.slice(0, plus) : local}@${domain}`;
}

/**
 * An address a notice may go to: an ASCII dot-atom local part at a host name (RFC 5321 §4.1.2)
 * — no quoted local part, domain literal ([127.0.0.1]), trailing dot, or encoded word, which
 * servers refuse or which name a mailbox other than the one they seem to.
 */
export function isPlainMailbox(address: string): boolean {
  return /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/.test(address)
    && !address.includes('=?');
}
