import type { Clock } from '../clock.js';
import { boundedText } from '../mime/bounded-text.js';
import { decodeHeaderValue, parseHeaderBlock } from '../mime/header-block.js';
import { CommunicationsRepo } from '../store/communications-repo.js';
import type { Database } from '../store/database.js';
import { MessageFailuresRepo } from '../store/message-failures-repo.js';
import type { StoredBlob } from '../store/message-store.js';
import { resolveSender } from './message-sender.js';

/** A message given up on after its last failed attempt, and what arrived of it. */
export interface GivenUp {
  mailboxKey: string;
  attempts: number;
  /** Why it was given up on, for the communication's reason ("could not be fetched in 3 attempts: …"). */
  reason: string;
  /** What arrived of it, in the store batch being committed; null when no byte did. */
  raw: StoredBlob | null;
  /** Its header section as far as it arrived ('' when none did). */
  headerBlock: string;
}

/**
 * The rows of a message given up on, once its batch is durable (inside the poll's commit): a
 * communication with disposition `quarantined`, its mailbox key (so it is never taken again),
 * who it is from and what it is about as far as its header arrived, the bytes that arrived and
 * the reason; and its failure row pointing at it. Returns the communication's id.
 */
export function commitGivenUp(db: Database, clock: Clock, table: string, message: GivenUp): number {
  const comms = new CommunicationsRepo(db, clock);
  const headers = parseHeaderBlock(message.headerBlock);
  const sender = resolveSender(headers, decodeHeaderValue);
  const id = comms.insertInbound({
    account: table, table, recordId: null, mailboxKey: message.mailboxKey,
    messageId: /<([^<>\s]+)>/.exec(headers.get('message-id') ?? '')?.[1] ?? null,
    rawHash: message.raw?.hash ?? null, contentHash: message.raw?.hash ?? null, size: message.raw?.size ?? 0,
    from: sender.address, senderHeader: sender.header, to: [], subject: boundedText(decodeHeaderValue(headers.get('subject') ?? ''), 998),
    disposition: 'quarantined', reason: message.reason.slice(0, 500),
  });
  if (message.headerBlock) comms.insertContent(id, { headers: message.headerBlock, text: null, html: null, truncated: false });
  new MessageFailuresRepo(db, clock).setQuarantined(table, message.mailboxKey, id);
  return id;
}
