import type { Clock } from '../clock.js';
import { UsageError } from '../errors.js';
import { cachedStatement, type Database } from './database.js';

export interface InboundCommunication {
  account: string;
  table: string;
  recordId: number | null;
  /** Null for a replay of a stored message. */
  mailboxKey: string | null;
  messageId: string | null;
  contentHash: string | null;
  from: string | null;
  /** The header the sender was read from ('From', 'Sender', 'Reply-To', 'Return-Path'), or null. */
  senderHeader?: string | null;
  to: string[];
  subject: string;
  disposition: string;
  reason: string;
  size: number;
  /** SHA-256 of the raw bytes in the message store; null only for rows from before the store. */
  rawHash?: string | null;
  fingerprint?: string | null;
  cc?: string[];
  /** The Date header as sent. */
  sentAt?: string | null;
  duplicateOf?: number | null;
  replayOf?: number | null;
}

/** The parsed content kept with a communication. */
export interface CommunicationContent {
  headers: string;
  text: string | null;
  html: string | null;
  truncated: boolean;
}

/** An attachment of a communication; its bytes are in the message store under sha256. */
export interface CommunicationAttachment {
  position: number;
  filename: string | null;
  contentType: string;
  size: number;
  sha256: string;
  contentId: string | null;
  inline: boolean;
}

export interface CommunicationRow {
  id: number;
  direction: 'inbound' | 'outbound';
  account: string | null;
  table: string | null;
  recordId: number | null;
  mailboxKey: string | null;
  messageId: string | null;
  from: string | null;
  /** The header an inbound sender was read from ('From', 'Sender', 'Reply-To', 'Return-Path'); null when none named one. */
  senderHeader: string | null;
  to: string | null;
  subject: string | null;
  disposition: string;
  reason: string | null;
  createdAt: string;
  cc: string | null;
  sentAt: string | null;
  size: number | null;
  rawHash: string | null;
  duplicateOf: number | null;
  replayOf: number | null;
  contentPurgedAt: string | null;
  contentPurgeReason: string | null;
}

const columns = `id, direction, account, table_name AS "table", record_id AS recordId, mailbox_key AS mailboxKey, message_id AS messageId,
  from_addr AS "from", sender_header AS senderHeader, to_addrs AS "to", subject, disposition, reason, created_at AS createdAt, cc_addrs AS cc, sent_at AS sentAt,
  size_bytes AS size, raw_hash AS rawHash, duplicate_of AS duplicateOf, replay_of AS replayOf,
  content_purged_at AS contentPurgedAt, content_purge_reason AS contentPurgeReason`;

/** A communication as the poll matches it to a listed message (CommunicationsRepo.underMailboxKey). */
export interface StoredUnderKey {
  mailboxKey: string;
  size: number | null;
  disposition: string;
  rawHash: string | null;
}

const reusedWord = 'reused';

/**
 * The key a message is stored under when its mailbox key is already taken by a different message
 * (a server that reused a UID or UIDL): "<key> reused<n>", n = 2, 3... — the first free one. The
 * key in the mailbox stays `mailboxKey`; the unique index on (account, mailbox_key) holds.
 */
export function reusedKey(mailboxKey: string, taken: ReadonlyArray<{ mailboxKey: string }>): string {
  const keys = new Set(taken.map((row) => row.mailboxKey));
  if (!keys.has(mailboxKey)) return mailboxKey;
  for (let n = 2; ; n++) if (!keys.has(`${mailboxKey} ${reusedWord}${n}`)) return `${mailboxKey} ${reusedWord}${n}`;
}

/** A copy of every inbound and outbound email, with what was done with it and why. */
export class CommunicationsRepo {
  constructor(private readonly db: Database, private readonly clock: Clock) {}

  /** True when this mailbox entry was already taken (its rows are committed). */
  hasMailboxKey(account: string, mailboxKey: string): boolean {
    return cachedStatement(this.db, 'SELECT 1 FROM communications WHERE account = ? AND mailbox_key = ?').get(account, mailboxKey) !== undefined;
  }

  /**
   * The communications stored under a mailbox key and its kin, oldest first: the key up to its
   * first space (mailbox ids have none), and every key that starts with that and a space — a
   * repeated POP3 UIDL ("pop3:<uidl> dup2", keyedListing) and a reused key ("<key> reused2",
   * reusedKey). Size is the raw bytes stored (for a quarantined one: what arrived of it).
   */
  underMailboxKey(account: string, mailboxKey: string): StoredUnderKey[] {
    const base = mailboxKey.split(' ')[0]!;
    return cachedStatement(this.db, `SELECT mailbox_key AS mailboxKey, size_bytes AS size, disposition, raw_hash AS rawHash FROM communications
      WHERE account = ? AND (mailbox_key = ? OR (mailbox_key >= ? AND mailbox_key < ?)) ORDER BY id`)
      .all(account, base, `${base} `, `${base}!`) as StoredUnderKey[];
  }

  /**
   * The communication of this account that a message is a true duplicate of: the first with the
   * same bytes, or else the same fingerprint (Message-ID, sender, subject and bodies). Only rows
   * that took effect count: a quarantined copy or a duplicate row is never "the first".
   */
  findOriginal(account: string, rawHash: string, fingerprint: string | null, options: { replaying?: number } = {}): CommunicationRow | undefined {
    // A row that was replayed is superseded by its replay, and the message being replayed is
    // not its own original (else every replay would come out a 'duplicate' of what it replays).
    const where = `direction = 'inbound' AND account = ? AND disposition NOT IN ('quarantined', 'duplicate') AND id != ?
      AND NOT EXISTS (SELECT 1 FROM communications r WHERE r.replay_of = communications.id)`;
    const skip = options.replaying ?? 0;
    return (cachedStatement(this.db, `SELECT ${columns} FROM communications WHERE ${where} AND content_hash = ? ORDER BY id LIMIT 1`).get(account, skip, rawHash)
      ?? (fingerprint ? cachedStatement(this.db, `SELECT ${columns} FROM communications WHERE ${where} AND fingerprint = ? ORDER BY id LIMIT 1`).get(account, skip, fingerprint) : undefined)) as CommunicationRow | undefined;
  }

  insertInbound(c: InboundCommunication): number {
    const result = cachedStatement(this.db, `INSERT INTO communications
      (direction, account, table_name, record_id, mailbox_key, message_id, content_hash, from_addr, to_addrs, subject, disposition, reason, size_bytes, created_at,
       raw_hash, fingerprint, cc_addrs, sent_at, duplicate_of, replay_of, sender_header)
      VALUES ('inbound', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      c.account, c.table, c.recordId, c.mailboxKey, c.messageId, c.contentHash, c.from, c.to.join(', '), c.subject, c.disposition, c.reason, c.size, this.clock.now().toISOString(),
      c.rawHash ?? null, c.fingerprint ?? null, c.cc?.length ? c.cc.join(', ') : null, c.sentAt ?? null, c.duplicateOf ?? null, c.replayOf ?? null, c.senderHeader ?? null,
    );
    return Number(result.lastInsertRowid);
  }

  /** Keeps the parsed content with the communication. */
  insertContent(id: number, content: CommunicationContent): void {
    cachedStatement(this.db, 'INSERT INTO communication_content (communication_id, headers, text_body, html_body, truncated) VALUES (?, ?, ?, ?, ?)')
      .run(id, content.headers, content.text, content.html, content.truncated ? 1 : 0);
  }

  /** Links the attachments (already in the message store) to the communication, in MIME order. */
  insertAttachments(id: number, attachments: ReadonlyArray<Omit<CommunicationAttachment, 'position'>>): void {
    const insert = cachedStatement(this.db, 'INSERT INTO communication_attachments (communication_id, position, filename, content_type, size, sha256, content_id, inline) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    attachments.forEach((a, i) => insert.run(id, i + 1, a.filename, a.contentType, a.size, a.sha256, a.contentId, a.inline ? 1 : 0));
  }

  /** Records the bytes of a communication (an outbound message as sent) in the message store. */
  setRaw(id: number, rawHash: string, size: number, messageId: string | null, sentAt: string | null = null): void {
    cachedStatement(this.db, 'UPDATE communications SET raw_hash = ?, size_bytes = ?, message_id = COALESCE(?, message_id), sent_at = COALESCE(?, sent_at) WHERE id = ?').run(rawHash, size, messageId, sentAt, id);
  }

  get(id: number): CommunicationRow | undefined {
    return cachedStatement(this.db, `SELECT ${columns} FROM communications WHERE id = ?`).get(id) as CommunicationRow | undefined;
  }

  /** The communication, or a usage error that says there is none (exit 2). */
  require(id: number): CommunicationRow {
    const row = this.get(id);
    if (!row) throw new UsageError('E_COMM_UNKNOWN', `There is no communication ${id}.`, { command: 'mailctl comms list' });
    return row;
  }

  /** The communication that replays `id` (there is at most one), or undefined. */
  replayOf(id: number): CommunicationRow | undefined {
    return cachedStatement(this.db, `SELECT ${columns} FROM communications WHERE replay_of = ?`).get(id) as CommunicationRow | undefined;
  }

  /** The ids of the 'duplicate' rows that point at `id`, oldest first. */
  duplicatesOf(id: number): number[] {
    return (cachedStatement(this.db, 'SELECT id FROM communications WHERE duplicate_of = ? ORDER BY id').all(id) as Array<{ id: number }>).map((r) => r.id);
  }

  /** Every communication linked to a record, oldest first. */
  forRecord(recordId: number): CommunicationRow[] {
    return cachedStatement(this.db, `SELECT ${columns} FROM communications WHERE record_id = ? ORDER BY id`).all(recordId) as CommunicationRow[];
  }

  /**
   * The attachments of the communications linked to a record, oldest first. A 'duplicate'
   * row's attachments are those of the message it repeats, so they are not listed twice.
   */
  attachmentsForRecord(recordId: number): Array<CommunicationAttachment & { communicationId: number; purged: boolean }> {
    return (cachedStatement(this.db, `SELECT a.communication_id AS communicationId, a.position, a.filename, a.content_type AS contentType, a.size, a.sha256,
        a.content_id AS contentId, a.inline, c.content_purged_at IS NOT NULL AS purged
      FROM communication_attachments a JOIN communications c ON c.id = a.communication_id
      WHERE c.record_id = ? AND c.disposition != 'duplicate' ORDER BY a.communication_id, a.position`).all(recordId) as Array<Omit<CommunicationAttachment, 'inline'> & { communicationId: number; inline: number; purged: number }>)
      .map((a) => ({ ...a, inline: a.inline === 1, purged: a.purged === 1 }));
  }

  content(id: number): CommunicationContent | undefined {
    const row = cachedStatement(this.db, 'SELECT headers, text_body AS text, html_body AS html, truncated FROM communication_content WHERE communication_id = ?').get(id) as (Omit<CommunicationContent, 'truncated'> & { truncated: number }) | undefined;
    return row ? { ...row, truncated: row.truncated === 1 } : undefined;
  }

  attachments(id: number): CommunicationAttachment[] {
    return (cachedStatement(this.db, `SELECT position, filename, content_type AS contentType, size, sha256, content_id AS contentId, inline
      FROM communication_attachments WHERE communication_id = ? ORDER BY position`).all(id) as Array<Omit<CommunicationAttachment, 'inline'> & { inline: number }>)
      .map((a) => ({ ...a, inline: a.inline === 1 }));
  }

  /** Marks our outbound message (by Message-ID) as bounced; true when one was found. */
  markOutboundBounced(messageId: string, reason: string): boolean {
    return cachedStatement(this.db, `UPDATE communications SET disposition = 'bounced', reason = ? WHERE direction = 'outbound' AND message_id = ?`).run(reason, messageId).changes > 0;
  }

  /**
   * Marks our outbound message (by Message-ID) as delayed: a mail system is still retrying it
   * (RFC 3464 `Action: delayed`). Only a message that left us and has not bounced: a late
   * delay notice never hides a bounce. True when one was marked.
   */
  markOutboundDelayed(messageId: string, reason: string): boolean {
    return cachedStatement(this.db, `UPDATE communications SET disposition = 'delayed', reason = ? WHERE direction = 'outbound' AND message_id = ? AND disposition IN ('sent', 'delayed')`).run(reason, messageId).changes > 0;
  }

  /** True when one of our outbound communications has this Message-ID. */
  isOutboundMessageId(messageId: string): boolean {
    return cachedStatement(this.db, `SELECT 1 FROM communications WHERE direction = 'outbound' AND message_id = ? LIMIT 1`).get(messageId) !== undefined;
  }

  setRecord(id: number, recordId: number): void {
    cachedStatement(this.db, 'UPDATE communications SET record_id = ? WHERE id = ?').run(recordId, id);
  }

  /**
   * The end of `id`'s replay chain: its replay, that replay's replay, and so on (a replay that
   * did not take effect can be replayed again); undefined when `id` was never replayed.
   */
  lastReplay(id: number): CommunicationRow | undefined {
    let last: CommunicationRow | undefined;
    const seen = new Set<number>([id]);
    for (let next = this.replayOf(id); next && !seen.has(next.id); next = this.replayOf(next.id)) {
      seen.add(next.id);
      last = next;
    }
    return last;
  }

  /** True when any communication names `table` (a table may be gone while its mail stays). */
  hasTable(table: string): boolean {
    return cachedStatement(this.db, 'SELECT 1 FROM communications WHERE table_name = ? LIMIT 1').get(table) !== undefined;
  }

  /** True when any communication has `disposition` (one an earlier version wrote, too). */
  hasDisposition(disposition: string): boolean {
    return cachedStatement(this.db, 'SELECT 1 FROM communications WHERE disposition = ? LIMIT 1').get(disposition) !== undefined;
  }

  /**
   * Inbound communications quarantined at or after `since` (ISO) that nobody replayed yet
   * (the ones left to look at: a replay quarantined again counts, its original does not):
   * how many per account, and the newest `newest` of them.
   */
  quarantinedNotReplayed(since: string, newest = 5): { byAccount: Record<string, number>; total: number; newest: CommunicationRow[] } {
    const where = `c.direction = 'inbound' AND c.disposition = 'quarantined' AND c.created_at >= ?
      AND NOT EXISTS (SELECT 1 FROM communications r WHERE r.replay_of = c.id)`;
    const counts = cachedStatement(this.db, `SELECT COALESCE(c.account, c.table_name, '') AS account, count(*) AS n FROM communications c WHERE ${where} GROUP BY 1`)
      .all(since) as Array<{ account: string; n: number }>;
    const rows = cachedStatement(this.db, `SELECT ${columns} FROM communications c WHERE ${where} ORDER BY c.id DESC LIMIT ?`)
      .all(since, newest) as CommunicationRow[];
    return { byAccount: Object.fromEntries(counts.map((c) => [c.account, c.n])), total: counts.reduce((sum, c) => sum + c.n, 0), newest: rows };
  }

  /** Newest first. `since` is an ISO time: communications taken (or queued) at or after it. */
  list(filter: { table?: string; recordId?: number; dispositions?: readonly string[]; since?: string; limit?: number } = {}): CommunicationRow[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.table) { where.push('table_name = ?'); params.push(filter.table); }
    if (filter.recordId !== undefined) { where.push('record_id = ?'); params.push(filter.recordId); }
    if (filter.dispositions?.length) { where.push(`disposition IN (${filter.dispositions.map(() => '?').join(', ')})`); params.push(...filter.dispositions); }
    if (filter.since) { where.push('created_at >= ?'); params.push(filter.since); }
    return cachedStatement(this.db, `SELECT ${columns} FROM communications ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`).all(...params, filter.limit ?? 100) as CommunicationRow[];
  }

}
