import type { Clock } from '../clock.js';
import { CommunicationsRepo } from './communications-repo.js';
import type { Database } from './database.js';

export type QueueStatus = 'queued' | 'deferred' | 'sending' | 'sent' | 'failed' | 'abandoned' | 'duplicate' | 'held';

/**
 * An attachment of a queued message. Its bytes are in the message store under `sha256`, copied
 * there when the message was queued (a file changed or deleted after `send` changes nothing).
 * Entries queued before the message store carry the bytes inline instead (`content`, base64).
 */
export interface QueuedAttachment {
  filename: string;
  contentType?: string;
  sha256?: string;
  /** Bytes. */
  size?: number;
  /** base64; only in entries queued before the message store. */
  content?: string;
}

/** The size in bytes of a queued attachment, whichever form it has. */
export function queuedAttachmentSize(a: QueuedAttachment): number {
  return a.size ?? Buffer.byteLength(a.content ?? '', 'base64');
}

export interface QueueEntry {
  id: number;
  communicationId: number | null;
  status: QueueStatus;
  table: string | null;
  recordId: number | null;
  ruleId: string | null;
  from: string;
  to: string[];
  subject: string;
  body: string;
  attachments: QueuedAttachment[];
  contentHash: string;
  attempts: number;
  firstFailureAt: string | null;
  nextAttemptAt: string;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}

interface Row { id: number; communication_id: number | null; status: QueueStatus; table_name: string | null; record_id: number | null; rule_id: string | null; from_addr: string; to_addrs: string; subject: string; body: string; attachments_json: string; content_hash: string; attempts: number; first_failure_at: string | null; next_attempt_at: string; last_error: string | null; created_at: string; updated_at: string }

function toEntry(r: Row): QueueEntry {
  return {
    id: r.id, communicationId: r.communication_id, status: r.status, table: r.table_name, recordId: r.record_id, ruleId: r.rule_id,
    from: r.from_addr, to: r.to_addrs.split(',').filter(Boolean), subject: r.subject, body: r.body, attachments: JSON.parse(r.attachments_json) as QueuedAttachment[],
    contentHash: r.content_hash, attempts: r.attempts, firstFailureAt: r.first_failure_at, nextAttemptAt: r.next_attempt_at, lastError: r.last_error, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

/**
 * The durable outbound queue. "Claim the next due messages" is one explicit operation
 * (an UPDATE … RETURNING here; FOR UPDATE SKIP LOCKED on PostgreSQL later).
 */
export class QueueRepo {
  constructor(private readonly db: Database, private readonly clock: Clock) {}

  enqueue(input: { table: string | null; recordId: number | null; ruleId: string | null; from: string; to: string[]; subject: string; body: string; attachments: QueuedAttachment[]; contentHash: string; status: 'queued' | 'duplicate'; reason?: string }): QueueEntry {
    const now = this.clock.now().toISOString();
    return this.db.transaction(() => {
      const comm = this.db.prepare(`INSERT INTO communications (direction, table_name, record_id, from_addr, to_addrs, subject, disposition, reason, created_at)
        VALUES ('outbound', ?, ?, ?, ?, ?, ?, ?, ?)`).run(input.table, input.recordId, input.from, input.to.join(', '), input.subject, input.status, input.reason ?? null, now);
      const communicationId = Number(comm.lastInsertRowid);
      // The outbound communication lists its attachments like an inbound one (they are in the store).
      const stored = input.attachments.filter((a) => a.sha256);
      if (stored.length > 0) {
        new CommunicationsRepo(this.db, this.clock).insertAttachments(communicationId, stored.map((a) => ({
          filename: a.filename, contentType: a.contentType ?? 'application/octet-stream', size: a.size ?? 0, sha256: a.sha256!, contentId: null, inline: false,
        })));
      }
      const result = this.db.prepare(`INSERT INTO outbound_queue (communication_id, status, table_name, record_id, rule_id, from_addr, to_addrs, subject, body, attachments_json, content_hash, next_attempt_at, last_error, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(communicationId, input.status, input.table, input.recordId, input.ruleId, input.from, input.to.join(','), input.subject, input.body, JSON.stringify(input.attachments), input.contentHash, now, input.reason ?? null, now, now);
      return this.get(Number(result.lastInsertRowid))!;
    })();
  }

  /** The same rule, record, recipients and content queued since `since`: a rule fired twice. */
  findDuplicate(input: { ruleId: string | null; recordId: number | null; to: string[]; contentHash: string }, since: Date): QueueEntry | undefined {
    const row = this.db.prepare(`SELECT * FROM outbound_queue WHERE rule_id IS ? AND record_id IS ? AND to_addrs = ? AND content_hash = ? AND created_at >= ? AND status != 'duplicate' ORDER BY id LIMIT 1`)
      .get(input.ruleId, input.recordId, input.to.join(','), input.contentHash, since.toISOString()) as Row | undefined;
    return row ? toEntry(row) : undefined;
  }

  /**
   * When the last message of an automatic rule (a reject notice: record none) was queued to
   * exactly this one recipient since `since`, whatever became of it; undefined when none was.
   * Uses the duplicates index (rule, record, recipients).
   */
  lastAutomaticTo(ruleId: string, to: string, since: Date): string | undefined {
    const row = this.db.prepare('SELECT max(created_at) AS at FROM outbound_queue WHERE rule_id = ? AND record_id IS NULL AND to_addrs = ? AND created_at >= ?')
      .get(ruleId, to, since.toISOString()) as { at: string | null };
    return row.at ?? undefined;
  }

  get(id: number): QueueEntry | undefined {
    const row = this.db.prepare('SELECT * FROM outbound_queue WHERE id = ?').get(id) as Row | undefined;
    return row ? toEntry(row) : undefined;
  }

  /** Claims up to `limit` due messages (queued or deferred, next attempt passed) for sending. */
  claimDue(now: Date, limit: number): QueueEntry[] {
    const rows = this.db.prepare(`UPDATE outbound_queue SET status = 'sending', updated_at = @now
      WHERE id IN (SELECT id FROM outbound_queue WHERE status IN ('queued', 'deferred') AND next_attempt_at <= @now ORDER BY next_attempt_at, id LIMIT @limit)
      RETURNING *`).all({ now: now.toISOString(), limit }) as Row[];
    return rows.map(toEntry).sort((a, b) => a.id - b.id);
  }

  /** After a crash, messages left "sending" go back to the queue (they may have been sent: SMTP cannot tell). */
  releaseStaleClaims(): number {
    return this.db.prepare(`UPDATE outbound_queue SET status = 'deferred', last_error = COALESCE(last_error, 'interrupted while sending; retried') WHERE status = 'sending'`).run().changes;
  }

  recordAttempt(id: number, outcome: string, response: string | null): void {
    const now = this.clock.now().toISOString();
    this.db.prepare('INSERT INTO outbound_attempts (queue_id, at, outcome, response) VALUES (?, ?, ?, ?)').run(id, now, outcome, response);
    this.db.prepare('UPDATE outbound_queue SET attempts = attempts + 1, updated_at = ? WHERE id = ?').run(now, id);
  }

  setStatus(id: number, status: QueueStatus, fields: { nextAttemptAt?: Date; firstFailureAt?: Date | null; lastError?: string | null } = {}): void {
    const now = this.clock.now().toISOString();
    this.db.transaction(() => {
      this.db.prepare(`UPDATE outbound_queue SET status = @status, updated_at = @now,
        next_attempt_at = COALESCE(@next, next_attempt_at), first_failure_at = CASE WHEN @setFirst THEN @first ELSE first_failure_at END,
        last_error = CASE WHEN @setError THEN @error ELSE last_error END WHERE id = @id`).run({
        id, status, now, next: fields.nextAttemptAt?.toISOString() ?? null,
        setFirst: fields.firstFailureAt !== undefined ? 1 : 0, first: fields.firstFailureAt ? fields.firstFailureAt.toISOString() : null,
        setError: fields.lastError !== undefined ? 1 : 0, error: fields.lastError ?? null,
      });
      this.db.prepare('UPDATE communications SET disposition = ?, reason = COALESCE(?, reason) WHERE id = (SELECT communication_id FROM outbound_queue WHERE id = ?)').run(status, fields.lastError ?? null, id);
    })();
  }

  setMessageId(id: number, messageId: string): void {
    this.db.prepare('UPDATE communications SET message_id = ? WHERE id = (SELECT communication_id FROM outbound_queue WHERE id = ?)').run(messageId, id);
  }

  attempts(id: number): Array<{ at: string; outcome: string; response: string | null }> {
    return this.db.prepare('SELECT at, outcome, response FROM outbound_attempts WHERE queue_id = ? ORDER BY id').all(id) as Array<{ at: string; outcome: string; response: string | null }>;
  }

  list(status?: QueueStatus, limit = 200): QueueEntry[] {
    const rows = (status
      ? this.db.prepare('SELECT * FROM outbound_queue WHERE status = ? ORDER BY id DESC LIMIT ?').all(status, limit)
      : this.db.prepare('SELECT * FROM outbound_queue ORDER BY id DESC LIMIT ?').all(limit)) as Row[];
    return rows.map(toEntry);
  }

  counts(): Record<string, number> {
    const rows = this.db.prepare('SELECT status, count(*) AS n FROM outbound_queue GROUP BY status').all() as Array<{ status: string; n: number }>;
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  delete(id: number): boolean {
    return this.db.transaction(() => {
      this.db.prepare('DELETE FROM outbound_attempts WHERE queue_id = ?').run(id);
      return this.db.prepare('DELETE FROM outbound_queue WHERE id = ?').run(id).changes > 0;
    })();
  }
}
