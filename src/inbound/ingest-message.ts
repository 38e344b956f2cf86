import { boundedText } from '../mime/bounded-text.js';
import type { Clock } from '../clock.js';
import { findReference } from '../refs/find-reference.js';
import { tableHash, type RefKeys } from '../refs/reference-codec.js';
import { CommunicationsRepo } from '../store/communications-repo.js';
import { ContactsRepo } from '../store/contacts-repo.js';
import type { Database } from '../store/database.js';
import { RecordsRepo } from '../store/records-repo.js';
import { TablesRepo } from '../store/tables-repo.js';
import { QueueRepo } from '../store/queue-repo.js';
import { decodeHeaderValue, messageIdsIn, parseHeaderBlock } from '../mime/header-block.js';
import { automaticKind } from './automatic-mail.js';
import { nullReturnPath } from './delivery-notice.js';
import { isOwnCopy } from './own-copy.js';
import { returnedHeaders, returnedMessageIds } from './returned-message.js';
import { resolveGlobals } from '../config/globals.js';
import { formatDuration } from '../config/units.js';
import { isAutomaticOrigin, rejectNoticeRule } from '../outbound/automatic-messages.js';
import { mailboxOf, planRejectNotice } from './reject-notice.js';
import { RejectNoticesRepo } from '../store/reject-notices-repo.js';
import { decide, type Decision } from './inbound-rules.js';
import type { InboundAccount } from './inbound-config.js';
import { resolveSender, senderProblem } from './message-sender.js';
import { addressIn, messageFingerprint, type ParsedMessage, type TakenMessage } from './parse-message.js';
import type { MessageStore } from '../store/message-store.js';

export interface IngestContext {
  db: Database;
  clock: Clock;
  keys: RefKeys;
  /** The KB's name: a reference from another KB is not ours. */
  kb: string;
  /** From-address for the short notice a rejected sender gets; without it no notice is sent. */
  noticeFrom?: string | undefined;
  /** At most one notice per recipient in this many ms (reject_notice_interval; default 7 days). */
  noticeIntervalMs?: number | undefined;
  /** The KB's own addresses (lower case), never sent a notice; the notice's From and the account's login are always among them. */
  ownAddresses?: readonly string[] | undefined;
  /** A reference older than this many ms is refused (reference_lifetime; null: forever; default 365 days). */
  referenceLifetimeMs?: number | null | undefined;
  maxTextChars: number;
  /** max_message_size (bytes): a message that passes it is stopped there and is its own failure. */
  maxMessageBytes?: number | undefined;
  /** Where the raw messages and attachments go, before their rows commit. */
  store: MessageStore;
}

export type IngestOutcome = { kind: 'processed'; disposition: string; communicationId: number; recordId: number | null } | { kind: 'already-taken' };

/**
 * The rows of one taken message, once its batch is durable: one communication (always), its
 * parsed content and attachment links, and the record change the rules decide. Synchronous,
 * so that a poll commits a group of messages in one transaction; the caller marks them done
 * in the mailbox only after that commit. `mailboxKey` is null for a replay (`replayOf`).
 *
 * A true duplicate of a message taken before (same bytes, or same Message-ID, sender, subject
 * and bodies) gets a row with disposition `duplicate` pointing at the first and changes no
 * record; a different message that reuses a Message-ID is a message of its own. A message
 * that could not be parsed is quarantined with its raw bytes kept, to be replayed.
 */
export function commitMessage(ctx: IngestContext, account: InboundAccount, mailboxKey: string | null, taken: TakenMessage, options: { replayOf?: number } = {}): IngestOutcome {
  const comms = new CommunicationsRepo(ctx.db, ctx.clock);
  const name = account.table;
  if (mailboxKey !== null && comms.hasMailboxKey(name, mailboxKey)) return { kind: 'already-taken' };
  const parsed = taken.parsed;
  const base = { account: name, table: name, mailboxKey, rawHash: taken.raw.hash, contentHash: taken.raw.hash, size: taken.raw.size, replayOf: options.replayOf ?? null };
  if (!parsed) {
    // Malformed beyond parsing: kept whole as a quarantined communication, never a crash.
    // Who sent it and what it is about, as far as its header block says: an admin looks for it by these.
    const headers = parseHeaderBlock(taken.headerBlock);
    const sender = resolveSender(headers, decodeHeaderValue);
    const id = comms.insertInbound({ ...base, recordId: null, messageId: /<([^<>\s]+)>/.exec(headers.get('message-id') ?? '')?.[1] ?? null, from: sender.address, senderHeader: sender.header, to: [], subject: boundedText(decodeHeaderValue(headers.get('subject') ?? ''), 998), disposition: 'quarantined', reason: `the message could not be parsed: ${taken.parseError ?? 'unknown error'}`.slice(0, 500) });
    comms.insertContent(id, { headers: taken.headerBlock, text: null, html: null, truncated: false });
    return { kind: 'processed', disposition: 'quarantined', communicationId: id, recordId: null };
  }
  const fingerprint = messageFingerprint(parsed);
  const fields = { ...base, messageId: parsed.messageId, fingerprint, from: parsed.from, senderHeader: parsed.sender.header, to: parsed.to, cc: parsed.cc, sentAt: parsed.date ? boundedText(parsed.date, 200) : null, subject: boundedText(parsed.subject, 998) };
  const keep = (id: number) => {
    comms.insertContent(id, { headers: taken.headerBlock, text: parsed.text, html: parsed.html, truncated: parsed.truncated });
    comms.insertAttachments(id, parsed.attachments);
  };
  const original = comms.findOriginal(name, taken.raw.hash, fingerprint, options.replayOf !== undefined ? { replaying: options.replayOf } : {});
  if (original) {
    const same = original.rawHash === taken.raw.hash ? 'the same bytes' : 'the same Message-ID, sender, subject and body';
    const id = comms.insertInbound({ ...fields, recordId: original.recordId, disposition: 'duplicate', duplicateOf: original.id, reason: `a duplicate of communication ${original.id} (${same}); no record was changed` });
    keep(id);
    return { kind: 'processed', disposition: 'duplicate', communicationId: id, recordId: null };
  }

  const decision = decideFor(ctx, account, parsed);
  const queue = new QueueRepo(ctx.db, ctx.clock);
  const now = ctx.clock.now();
  const noticeIntervalMs = ctx.noticeIntervalMs ?? defaults.reject_notice_interval;
  const notices = new RejectNoticesRepo(ctx.db);
  const notice = decision.disposition === 'rejected'
    ? planRejectNotice({
      policy: { from: ctx.noticeFrom, intervalMs: noticeIntervalMs, ownAddresses: ownAddressesOf(ctx, account) },
      sender: parsed.from, senderInvalid: parsed.sender.invalid ? senderProblem(parsed.sender) : null, automatic: automaticKind(parsed) !== null, subject: parsed.subject, table: name, nullReturnPath: nullReturnPath(parsed),
      lastNoticeAt: (mailbox) => notices.lastTo(mailbox, new Date(now.getTime() - noticeIntervalMs)),
      noticesInLastHour: () => notices.countSince(new Date(now.getTime() - 3_600_000)),
    })
    : undefined;
  const communicationId = comms.insertInbound({
    ...fields,
    recordId: decision.action === 'update' ? decision.recordId : (decision.action === 'none' ? decision.recordId ?? null : null),
    disposition: decision.disposition,
    // Why no notice went out is part of the story an admin reads (comms show).
    reason: notice && !notice.send && ctx.noticeFrom ? `${decision.reason}; ${notice.why}`.slice(0, 2000) : decision.reason,
  });
  keep(communicationId);
  const records = new RecordsRepo(ctx.db, ctx.clock);
  let recordId: number | null = null;
  if (decision.action === 'update') {
    records.appendNote(decision.recordId, { author: decision.author, body: decision.note, communicationId });
    recordId = decision.recordId;
  } else if (decision.action === 'create') {
    const record = records.create({ table: name, title: decision.title, createdBy: decision.createdBy });
    records.appendNote(record.id, { author: decision.createdBy, body: decision.note, communicationId });
    comms.setRecord(communicationId, record.id);
    recordId = record.id;
  }
  if (decision.disposition === 'bounce' || decision.disposition === 'delay') {
    // A notice about our own message: the outbound communication says so — bounced, or only
    // delayed (a delay never marks it bounced; a later bounce does).
    const returned = returnedHeaders(noticeText(parsed));
    const ids = new Set([...returnedMessageIds(returned), ...messageIdsIn(parsed.headers.get('in-reply-to'))]);
    for (const id of ids) {
      if (decision.disposition === 'bounce') comms.markOutboundBounced(id, `bounced: ${parsed.subject} (communication ${communicationId})`.slice(0, 500));
      else comms.markOutboundDelayed(id, `delayed: ${parsed.subject} (communication ${communicationId})`.slice(0, 500));
    }
  }
  if (notice?.send && ctx.noticeFrom) {
    // The rejected sender gets a short notice, through the queue like every outbound mail; its
    // reserved rule id makes it go out with Auto-Submitted (automatic-messages.ts).
    queue.enqueue({
      table: name, recordId: null, ruleId: rejectNoticeRule, from: ctx.noticeFrom, to: [notice.to],
      subject: notice.subject, body: notice.body, attachments: [], contentHash: `reject:${communicationId}`, status: 'queued',
    });
    // Kept a year and a day: reject_notice_interval is at most 365 days.
    notices.record(mailboxOf(notice.to), now, new Date(now.getTime() - 366 * 86_400_000));
  }
  return { kind: 'processed', disposition: decision.disposition, communicationId, recordId };
}

function decideFor(ctx: IngestContext, account: InboundAccount, message: ParsedMessage): Decision {
  const records = new RecordsRepo(ctx.db, ctx.clock);
  const contacts = new ContactsRepo(ctx.db, ctx.clock);
  const comms = new CommunicationsRepo(ctx.db, ctx.clock);
  if (isOwnCopy({ headers: message.headers, messageId: message.messageId, from: message.from, keys: ctx.keys, kb: ctx.kb, ownAddresses: ownAddressesOf(ctx, account), isOurOutbound: (id) => comms.isOutboundMessageId(id) })) {
    return decide({ account, message, automatic: null, ownCopy: true, reference: null, refused: [], sender: null, guest: null });
  }
  const automatic = automaticKind(message);
  const search = findReference(message.headers, ctx.keys);
  // A bounce carries our message inside it (attached, or inline in a text bounce): look there too.
  const returnedText = automatic === 'bounce' || automatic === 'delay' ? noticeText(message) : message.embedded;
  const embedded = !search.found && returnedText ? findReference(returnedHeaders(returnedText), ctx.keys) : undefined;
  const found = search.found ?? embedded?.found;
  const refused = [...search.rejected, ...(embedded?.rejected ?? [])].map((r) => `${r.source}: ${r.reason}`);
  let reference: { recordId: number; table: string; source: string } | null = null;
  // Our own automatic notice, come back (the notice itself, not a reply to it): its reference
  // authenticates, names an automatic rule, and sits in its own header or Message-ID.
  const ownNotice = found?.kind === 'full' && found.reference.kb === ctx.kb && isAutomaticOrigin(found.reference.origin) && (found.source === 'header' || found.source === 'message-id');
  if (found && !ownNotice) {
    const table = found.kind === 'full' ? found.reference.table : new TablesRepo(ctx.db, ctx.clock).list().find((t) => tableHash(t.name) === found.reference.tableHash)?.name ?? null;
    const recordId = found.reference.recordId;
    const kbOk = found.kind === 'subject' || found.reference.kb === ctx.kb;
    const record = recordId !== null ? records.get(recordId) : undefined;
    const expired = referenceBound(found.reference.sentAt, record?.refsRevokedBefore ?? null, ctx);
    if (!(kbOk && record && record.table === table)) refused.push(`${found.source}: names ${table ?? '?'} record ${recordId ?? '?'}, which does not exist here`);
    else if (expired) refused.push(`${found.source}: ${expired}`);
    else reference = { recordId: record.id, table: record.table, source: found.source };
  }
  const guest = account.guestContact ? contacts.findByEmail(account.guestContact) ?? null : null;
  return decide({
    account,
    message,
    automatic,
    ownNotice,
    reference,
    refused,
    sender: message.from ? contacts.findByEmail(message.from) ?? null : null,
    guest,
  });
}

/** The KB's own addresses as this account sees them: the configured ones, the notice's From, the account's login and mailbox (lower case). */
function ownAddressesOf(ctx: IngestContext, account: InboundAccount): string[] {
  return [...(ctx.ownAddresses ?? []), ...[ctx.noticeFrom, account.auth.username, account.mailbox].map((a) => addressIn(a ?? '')).filter((a): a is string => a !== null)];
}

/** Where a notice's returned message can be: its attached parts, and its text (qmail, Exim and Postfix write the copy inline). */
function noticeText(message: ParsedMessage): string {
  return `${message.embedded}\n${message.text}`;
}

/** The global defaults, for a context that does not set its own (tests, older callers). */
const defaults = resolveGlobals({});

/**
 * Why a reference that authenticates no longer updates its record, or undefined while it does:
 * older than reference_lifetime, or sealed before the record's references were revoked. Without
 * a bound, anyone who ever held one message's reference could append to its record for ever,
 * under any From. The seal time has whole seconds: one sealed in the second of a revocation counts
 * as before it.
 */
function referenceBound(sentAt: Date, revokedBefore: string | null, ctx: IngestContext): string | undefined {
  const lifetime = ctx.referenceLifetimeMs === undefined ? defaults.reference_lifetime : ctx.referenceLifetimeMs;
  const sealed = sentAt.toISOString().replace(/\.000Z$/, 'Z');
  if (lifetime !== null && ctx.clock.now().getTime() - sentAt.getTime() > lifetime) return `sealed ${sealed}, older than reference_lifetime ${formatDuration(lifetime)}`;
  if (revokedBefore !== null && sentAt.getTime() < Math.ceil(Date.parse(revokedBefore) / 1000) * 1000) return `sealed ${sealed}, before the record's references were revoked at ${revokedBefore}`;
  return undefined;
}

/**
 * The text from its first line that looks like a header on (all of it when none does), as
 * `text.replace(/^[\s\S]*?(?=^[A-Za-z-]+:)/m, '')` — in linear time: that expression took
 * seconds per message on a returned copy of 64 KB of blank lines.
 */
export function fromFirstHeaderLine(text: string): string {
  const first = /^[A-Za-z-]+:/m.exec(text);
  return first ? text.slice(first.index) : text;
}
