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
import { parseHeaderBlock } from '../mime/header-block.js';
import { automaticKind } from './automatic-mail.js';
import { decide, type Decision } from './inbound-rules.js';
import type { InboundAccount } from './inbound-config.js';
import type { MailSource, MessageRef } from './mail-source.js';
import { parseMessage, SourceStreamError, type ParsedMessage } from './parse-message.js';

export interface IngestContext {
  db: Database;
  clock: Clock;
  keys: RefKeys;
  /** The KB's name: a reference from another KB is not ours. */
  kb: string;
  /** From-address for the short notice a rejected sender gets; without it no notice is sent. */
  noticeFrom?: string | undefined;
  maxTextChars: number;
}

export type IngestOutcome = { kind: 'processed'; disposition: string; communicationId: number; recordId: number | null } | { kind: 'already-taken' } | { kind: 'repeat'; communicationId: number };

/**
 * One message, exactly once: skipped if its mailbox id is already recorded; otherwise
 * parsed, decided and committed in one transaction (communication row, record change,
 * note) — and only then marked done in the mailbox. A crash before the commit means it is
 * taken again; after it, it is recognised and only marked.
 */
export async function ingestMessage(ctx: IngestContext, account: InboundAccount, source: MailSource, ref: MessageRef): Promise<IngestOutcome> {
  const comms = new CommunicationsRepo(ctx.db, ctx.clock);
  const name = account.table;
  if (comms.hasMailboxKey(name, ref.key)) {
    await source.markDone(ref);
    return { kind: 'already-taken' };
  }
  let parsed: ParsedMessage;
  try {
    parsed = await parseMessage(await source.open(ref), { maxTextChars: ctx.maxTextChars });
  } catch (error) {
    if (error instanceof SourceStreamError || !(error instanceof Error) || (error as { phase?: string }).phase) throw error; // retried on the next poll
    // Malformed beyond parsing: kept as a quarantined communication, never a crash.
    const id = comms.insertInbound({ account: name, table: name, recordId: null, mailboxKey: ref.key, messageId: null, contentHash: `unparsed:${ref.key}`, from: null, to: [], subject: '', disposition: 'quarantined', reason: `the message could not be parsed: ${(error as Error).message}`.slice(0, 500), size: ref.size });
    await source.markDone(ref);
    return { kind: 'processed', disposition: 'quarantined', communicationId: id, recordId: null };
  }
  const repeat = comms.findRepeat(name, parsed.messageId, parsed.contentHash);
  if (repeat) {
    await source.markDone(ref);
    return { kind: 'repeat', communicationId: repeat.id };
  }

  const decision = decideFor(ctx, account, parsed);
  const result = ctx.db.transaction(() => {
    const communicationId = comms.insertInbound({
      account: name, table: name, recordId: decision.action === 'update' ? decision.recordId : (decision.action === 'none' ? decision.recordId ?? null : null),
      mailboxKey: ref.key, messageId: parsed.messageId, contentHash: parsed.contentHash, from: parsed.from, to: parsed.to, subject: boundedText(parsed.subject, 998),
      disposition: decision.disposition, reason: decision.reason, size: parsed.size,
    });
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
    if (decision.disposition === 'bounce') {
      // A bounce of our own message: the outbound communication says so.
      for (const id of [...parsed.embedded.matchAll(/^Message-ID:\s*<([^>\s]+)>/gim)].map((m) => m[1]!)) {
        comms.markOutboundBounced(id, `bounced: ${parsed.subject} (communication ${communicationId})`.slice(0, 500));
      }
    }
    if (decision.disposition === 'rejected' && ctx.noticeFrom && parsed.from) {
      // The rejected sender gets a short notice, through the queue like every outbound mail.
      new QueueRepo(ctx.db, ctx.clock).enqueue({
        table: name, recordId: null, ruleId: 'inbound-reject', from: ctx.noticeFrom, to: [parsed.from],
        subject: `Not accepted: ${parsed.subject || '(no subject)'}`.slice(0, 200),
        // The subject is quoted short: a notice must not echo a 1 MB subject back (backscatter).
        body: `Your message "${parsed.subject.length > 200 ? `${parsed.subject.slice(0, 199)}…` : parsed.subject}" to ${name} was not accepted: this address takes mail only from known contacts or as a reply to our messages.`,
        attachments: [], contentHash: `reject:${communicationId}`, status: 'queued',
      });
    }
    return { communicationId, recordId };
  })();
  await source.markDone(ref);
  return { kind: 'processed', disposition: decision.disposition, communicationId: result.communicationId, recordId: result.recordId };
}

function decideFor(ctx: IngestContext, account: InboundAccount, message: ParsedMessage): Decision {
  const records = new RecordsRepo(ctx.db, ctx.clock);
  const contacts = new ContactsRepo(ctx.db, ctx.clock);
  const search = findReference(message.headers, ctx.keys);
  // A bounce carries our message inside it: look there too.
  const embedded = !search.found && message.embedded ? findReference(parseHeaderBlock(fromFirstHeaderLine(message.embedded)), ctx.keys) : undefined;
  const found = search.found ?? embedded?.found;
  const refused = [...search.rejected, ...(embedded?.rejected ?? [])].map((r) => `${r.source}: ${r.reason}`);
  let reference: { recordId: number; table: string; source: string } | null = null;
  if (found) {
    const table = found.kind === 'full' ? found.reference.table : new TablesRepo(ctx.db, ctx.clock).list().find((t) => tableHash(t.name) === found.reference.tableHash)?.name ?? null;
    const recordId = found.reference.recordId;
    const kbOk = found.kind === 'subject' || found.reference.kb === ctx.kb;
    const record = recordId !== null ? records.get(recordId) : undefined;
    if (kbOk && record && record.table === table) reference = { recordId: record.id, table: record.table, source: found.source };
    else refused.push(`${found.source}: names ${table ?? '?'} record ${recordId ?? '?'}, which does not exist here`);
  }
  const guest = account.guestContact ? contacts.findByEmail(account.guestContact) ?? null : null;
  return decide({
    account,
    message,
    automatic: automaticKind(message),
    reference,
    refused,
    sender: message.from ? contacts.findByEmail(message.from) ?? null : null,
    guest,
  });
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
