import type { HeaderBlock } from '../mime/header-block.js';
import { mailboxesIn, type Mailbox } from './mailbox-list.js';

/** The header a sender was read from, as RFC 5322 spells it. */
export type SenderHeader = 'From' | 'Sender' | 'Reply-To' | 'Return-Path';

/** Who sent a message, and from which header that was read. */
export interface MessageSender {
  /** The sender's mailbox, lower case; null when the message names none, or only an invalid one. */
  address: string | null;
  /** The display name (encoded words decoded), or null. */
  name: string | null;
  /** Where the sender came from: for an invalid sender, the header that was refused; null when no header names one. */
  header: SenderHeader | null;
  /** What was repaired to read the address ("spaces around @ removed"), empty when it was well formed. */
  repairs: string[];
  /** Why the sender is invalid ("white space inside the address"), or null. */
  invalid: string | null;
  /** The refused header's text, one line, at most 200 characters (for an invalid sender; else null). */
  text: string | null;
}

const noSender: MessageSender = { address: null, name: null, header: null, repairs: [], invalid: null, text: null };
const quoteMax = 200;
/** How many distinct mailboxes of one header value are kept (the rest only counted as "more"). */
const distinctKept = 10;

/**
 * The sender of a message (issue 16, item 5): From, else Sender, else Reply-To, else
 * Return-Path (RFC 5322 §3.6.2 names the author in From and the agent in Sender; Reply-To is
 * where the author wants answers; Return-Path is the envelope sender, RFC 5321 §4.4). A header
 * is passed over only when it names no mailbox at all (absent, empty, `<>`, a display name or an
 * empty group alone). A header that names a mailbox wrongly makes the sender invalid — the
 * next header is not tried, and no part of the broken text is taken for an address: a guess
 * could be a different, real mailbox ("dan van trial@x" is not "trial@x"), and the reject notice
 * would go there. What is repaired is listed in mailbox-list.ts.
 *
 * Decisions where RFC 5322 leaves a message malformed:
 * - Two From headers (it allows one): the sender when both name the same mailbox; naming
 *   different mailboxes, the sender is invalid (either could be the forged one).
 * - One From naming several mailboxes (allowed, with Sender naming the one who sent it): the
 *   Sender header's mailbox; without one, the sender is invalid.
 * - Sender or Reply-To naming several mailboxes: invalid (which one wrote is unknown).
 * - Several Return-Path headers: the first (the one the final delivery added, RFC 5321 §4.4).
 *
 * `decodeName` turns a display name's raw text (encoded words, 8-bit bytes) into text.
 */
export function resolveSender(headers: HeaderBlock, decodeName: (raw: string) => string): MessageSender {
  const from = readHeader(headers.getAll('from'), decodeName);
  if (from.kind === 'one') return sender(from.mailbox, 'From');
  if (from.kind === 'invalid') return invalid('From', from.why, from.text);
  if (from.kind === 'many') {
    if (from.headers > 1) return invalid('From', `${from.headers} From headers that name different mailboxes`, from.text);
    const agent = readHeader(headers.getAll('sender'), decodeName);
    if (agent.kind === 'one') return sender(agent.mailbox, 'Sender');
    return invalid('From', `${from.count} mailboxes, and no Sender header to say which one sent it`, from.text);
  }
  for (const [key, header] of [['sender', 'Sender'], ['reply-to', 'Reply-To']] as const) {
    const found = readHeader(headers.getAll(key), decodeName);
    if (found.kind === 'one') return sender(found.mailbox, header);
    if (found.kind === 'invalid') return invalid(header, found.why, found.text);
    if (found.kind === 'many') return invalid(header, `${found.count} mailboxes`, found.text);
  }
  const returnPath = headers.get('return-path');
  const path = readHeader(returnPath === undefined ? [] : [returnPath], decodeName);
  if (path.kind === 'one') return sender(path.mailbox, 'Return-Path');
  if (path.kind === 'invalid') return invalid('Return-Path', path.why, path.text);
  return noSender;
}

type HeaderReading =
  | { kind: 'none' }
  | { kind: 'one'; mailbox: Mailbox }
  | { kind: 'many'; count: string; headers: number; text: string }
  | { kind: 'invalid'; why: string; text: string };

/** What the copies of one header name together: nothing, one mailbox (however often), several, or something broken. */
function readHeader(values: string[], decodeName: (raw: string) => string): HeaderReading {
  // Bounded: a sender needs one mailbox, or to know there are several (a From of 150,000
  // mailboxes is read, but only the first few distinct ones are kept).
  const distinct = new Map<string, Mailbox>();
  let more = false;
  let naming = 0;
  for (const value of values) {
    const list = mailboxesIn(value, decodeName, { distinct: distinctKept });
    if (list.invalid) return { kind: 'invalid', why: list.invalid, text: value };
    if (list.mailboxes.length) naming++;
    if (list.more) more = true;
    for (const m of list.mailboxes) {
      const seen = distinct.get(m.address);
      if (!seen || (!seen.name && m.name)) distinct.set(m.address, m);
    }
  }
  if (distinct.size === 0) return { kind: 'none' };
  if (distinct.size === 1 && !more) return { kind: 'one', mailbox: distinct.values().next().value! };
  return { kind: 'many', count: more ? `more than ${distinct.size}` : String(distinct.size), headers: naming, text: values.join(' / ') };
}

function sender(mailbox: Mailbox, header: SenderHeader): MessageSender {
  return { address: mailbox.address, name: mailbox.name, header, repairs: mailbox.repairs, invalid: null, text: null };
}

function invalid(header: SenderHeader, why: string, text: string): MessageSender {
  return { address: null, name: null, header, repairs: [], invalid: why, text: quote(text) };
}

/** Header text as a reason quotes it: one line, at most 200 characters. */
function quote(text: string): string {
  const line = text.slice(0, 4 * quoteMax).replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return `"${line.length > quoteMax ? `${line.slice(0, quoteMax - 1)}…` : line}"`;
}

/** How a guest record's note names the sender: `Ann Lee <ann@x.test>`, or the refused text and why. */
export function senderLabel(s: MessageSender): string {
  if (s.address) return `${s.name ? `${s.name} ` : ''}<${s.address}>`;
  if (s.invalid) return `${s.text} (invalid ${s.header}: ${s.invalid})`;
  return '(unknown sender: no From, Sender, Reply-To or Return-Path)';
}

/** Why the sender is invalid, as a communication's reason says it; '' for a valid or absent one. */
export function senderProblem(s: MessageSender): string {
  return s.invalid ? `the sender is invalid: ${s.header} ${s.text}: ${s.invalid}` : '';
}
