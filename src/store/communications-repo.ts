import type { Clock } from '../clock.js';
import { cachedStatement, type Database } from './database.js';

export interface InboundCommunication {
  account: string;
  table: string;
  recordId: number | null;
  mailboxKey: string;
  messageId: string | null;
  contentHash: string | null;
  from: string | null;
  to: string[];
  subject: string;
  disposition: string;
  reason: string;
  size: number;
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
  to: string | null;
  subject: string | null;
  disposition: string;
  reason: string | null;
  createdAt: string;
}

const columns = `id, direction, account, table_name AS "table", record_id AS recordId, mailbox_key AS mailboxKey, message_id AS messageId,
  from_addr AS "from", to_addrs AS "to", subject, disposition, reason, created_at AS createdAt`;

/** A copy of every inbound and outbound email, with what was done with it and why. */
export class CommunicationsRepo {
  constructor(private readonly db: Database, private readonly clock: Clock) {}

  /** True when this mailbox entry was already taken (its rows are committed). */
  hasMailboxKey(account: string, mailboxKey: string): boolean {
    return cachedStatement(this.db, 'SELECT 1 FROM communications WHERE account = ? AND mailbox_key = ?').get(account, mailboxKey) !== undefined;
  }

  /** The communication of a message seen before under another mailbox id (same Message-ID or, without one, same bytes). */
  findRepeat(account: string, messageId: string | null, contentHash: string): CommunicationRow | undefined {
    return (messageId
      ? cachedStatement(this.db, `SELECT ${columns} FROM communications WHERE direction = 'inbound' AND account = ? AND message_id = ?`).get(account, messageId)
      : cachedStatement(this.db, `SELECT ${columns} FROM communications WHERE direction = 'inbound' AND account = ? AND message_id IS NULL AND content_hash = ?`).get(account, contentHash)) as CommunicationRow | undefined;
  }

  insertInbound(c: InboundCommunication): number {
    const result = cachedStatement(this.db, `INSERT INTO communications
      (direction, account, table_name, record_id, mailbox_key, message_id, content_hash, from_addr, to_addrs, subject, disposition, reason, size_bytes, created_at)
      VALUES ('inbound', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      c.account, c.table, c.recordId, c.mailboxKey, c.messageId, c.messageId ? null : c.contentHash, c.from, c.to.join(', '), c.subject, c.disposition, c.reason, c.size, this.clock.now().toISOString(),
    );
    return Number(result.lastInsertRowid);
  }

  /** Marks our outbound message (by Message-ID) as bounced; true when one was found. */
  markOutboundBounced(messageId: string, reason: string): boolean {
    return cachedStatement(this.db, `UPDATE communications SET disposition = 'bounced', reason = ? WHERE direction = 'outbound' AND message_id = ?`).run(reason, messageId).changes > 0;
  }

  setRecord(id: number, recordId: number): void {
    cachedStatement(this.db, 'UPDATE communications SET record_id = ? WHERE id = ?').run(recordId, id);
  }

  list(filter: { table?: string; recordId?: number; limit?: number } = {}): CommunicationRow[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.table) { where.push('table_name = ?'); params.push(filter.table); }
    if (filter.recordId !== undefined) { where.push('record_id = ?'); params.push(filter.recordId); }
    return cachedStatement(this.db, `SELECT ${columns} FROM communications ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`).all(...params, filter.limit ?? 100) as CommunicationRow[];
  }

}
