import type { Disposition } from '../inbound/inbound-rules.js';
import type { QueueStatus } from './queue-repo.js';

const inbound = ['record-updated', 'record-created', 'guest-record-created', 'ignored', 'rejected', 'auto-reply', 'bounce', 'delay', 'list', 'own-copy', 'quarantined', 'duplicate'] as const;
const outbound = ['queued', 'deferred', 'sending', 'sent', 'failed', 'abandoned', 'duplicate', 'held', 'bounced', 'delayed'] as const;

// The lists above must name every disposition the code writes: these fail to compile when one is added without them.
const everyInbound: Exclude<Disposition, (typeof inbound)[number]> extends never ? true : never = true;
const everyOutbound: Exclude<QueueStatus, (typeof outbound)[number]> extends never ? true : never = true;
void everyInbound;
void everyOutbound;

/**
 * Every disposition a communication can have (communications.disposition): the inbound rules'
 * outcomes and 'duplicate', the outbound queue's statuses, 'bounced' and 'delayed' (a delivery
 * status notice about it came back, ingest-message.ts). For checking what an
 * admin typed (comms list --disposition).
 */
export const communicationDispositions: readonly string[] = [...new Set<string>([...inbound, ...outbound])];

/**
 * An inbound outcome that a replay may change once its cause is fixed (a parser fault, a sender
 * who is not a contact yet, the account's policy): quarantined, ignored, rejected. A record
 * made or updated took its effect; an auto-reply, bounce, delay notice, list mail or our own
 * copy stays one.
 */
export function mayChangeOnReplay(disposition: string): boolean {
  return disposition === 'quarantined' || disposition === 'ignored' || disposition === 'rejected';
}
