import type { Clock } from '../clock.js';
import { CommunicationsRepo } from './communications-repo.js';
import { cachedStatement, type Database } from './database.js';

export type QueueStatus = 'queued' | 'deferred' | 'sending' | 'sent' | 'failed' | 'abandoned' | 'duplicate' | 'held';

/**
 * An attachment of a queued message. Its bytes are in the message store under `sha256`, copied
 * there when the message was queued (a file changed or deleted after `send` changes nothing).
 * Entries queued before the message store carried the bytes inline (`content`, base64): the
 * daemon moves them into the store when it starts (moveLegacyQueueAttachments).
 */
export interface QueuedAttachment {
  filename: string;
  contentType?: string;
  sha256?: string;
  /** Bytes. */
  size?: number;
  /** base64; only in entries queued before the message store, until the daemon moves them. */
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

/**
 * Every column but the attachments JSON, and the attachments' names picked out of it by
 * SQLite. json_tree reads only the `filename` values: an entry from before the message store,
 * whose attachment bytes are still inline, costs one parse of its JSON inside SQLite and no
 * copy of the bytes (json_each or json_extract copied each 13 MB value, several times).
 */
const listedColumns = `id, communication_id, status, table_name, record_id, rule_id, from_addr, to_addrs, subject, body, content_hash, attempts,
  first_failure_at, next_attempt_at, last_error, created_at, updated_at,
  (SELECT json_group_array(t.value ORDER BY t.id) FROM json_tree(q.attachments_json) t WHERE t.key = 'filename' AND t.path GLOB '$[[]*]') AS attachment_names`;

/** A queue entry as listed: its attachments by name only (their bytes are never read to list them). */
export type ListedEntry = Omit<QueueEntry, 'attachments'> & { attachments: string[] };

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

  /** The newest `limit` entries, for listing: attachments by name, never their bytes. */
  list(status?: QueueStatus, limit = 200): ListedEntry[] {
    const select = `SELECT ${listedColumns} FROM outbound_queue q`;
    const rows = (status
      ? this.db.prepare(`${select} WHERE status = ? ORDER BY id DESC LIMIT ?`).all(status, limit)
      : this.db.prepare(`${select} ORDER BY id DESC LIMIT ?`).all(limit)) as Array<Omit<Row, 'attachments_json'> & { attachment_names: string }>;
    return rows.map(({ attachment_names: names, ...row }) => ({ ...toEntry({ ...row, attachments_json: '[]' }), attachments: JSON.parse(names) as string[] }));
  }

  /**
   * A message that was being sent when the daemon stopped goes back to the queue, due now, with
   * the reason. It may have reached the server already (SMTP cannot tell): it can arrive twice.
   */
  requeueInterrupted(id: number, reason: string): void {
    this.setStatus(id, 'queued', { nextAttemptAt: this.clock.now(), lastError: reason });
  }

  /** Every message still claimed ("sending") goes back to the queue, due now, with `reason`; returns how many. */
  requeueClaimed(reason: string): number {
    const ids = this.db.prepare(`SELECT id FROM outbound_queue WHERE status = 'sending'`).pluck().all() as number[];
    for (const id of ids) this.requeueInterrupted(id, reason);
    return ids.length;
  }

  /** A claimed message not started (the daemon is stopping) goes back as it was: queued, or deferred after a failure. */
  unclaim(entry: QueueEntry): void {
    this.db.prepare(`UPDATE outbound_queue SET status = ?, updated_at = ? WHERE id = ? AND status = 'sending'`)
      .run(entry.firstFailureAt ? 'deferred' : 'queued', this.clock.now().toISOString(), entry.id);
  }

  /** Queue entries whose attachments still carry their bytes inline (queued before the message store). */
  legacyAttachmentIds(): number[] {
    // json_tree with a filter on the key never copies the (large) values it passes.
    return this.db.prepare(`SELECT id FROM outbound_queue
      WHERE EXISTS (SELECT 1 FROM json_tree(attachments_json) t WHERE t.key = 'content' AND t.path GLOB '$[[]*]') ORDER BY id`).pluck().all() as number[];
  }

  /**
   * An entry's communication and attachments, with `inline` true where the bytes are still in
   * the row (read them one at a time with inlineAttachmentBytes): the JSON is never parsed whole
   * in JavaScript, so an entry with 25 MB attachments costs one of them at a time.
   */
  attachmentsOf(id: number): { communicationId: number | null; attachments: Array<Omit<QueuedAttachment, 'content'> & { inline: boolean }> } | undefined {
    const row = this.db.prepare('SELECT communication_id AS communicationId FROM outbound_queue WHERE id = ?').get(id) as { communicationId: number | null } | undefined;
    if (!row) return undefined;
    const fields = this.db.prepare(`SELECT CAST(substr(t.path, 3, length(t.path) - 3) AS INTEGER) AS i, t.key AS key, CASE WHEN t.key = 'content' THEN NULL ELSE t.value END AS value
      FROM outbound_queue q, json_tree(q.attachments_json) t WHERE q.id = ? AND t.path GLOB '$[[]*]' AND t.key IN ('filename', 'contentType', 'sha256', 'size', 'content')`)
      .all(id) as Array<{ i: number; key: string; value: string | number | null }>;
    const attachments: Array<Omit<QueuedAttachment, 'content'> & { inline: boolean }> = [];
    for (const f of fields) {
      const a = (attachments[f.i] ??= { filename: '', inline: false });
      if (f.key === 'content') a.inline = true;
      else if (f.key === 'size') a.size = Number(f.value);
      else (a as unknown as Record<string, unknown>)[f.key] = String(f.value);
    }
    return { communicationId: row.communicationId, attachments: Array.from(attachments, (a) => a ?? { filename: '', inline: false }) };
  }

  /**
   * The bytes of an entry's attachment number `index` that are still inline (base64 in the row),
   * decoded a few MB at a time: the base64 comes as one Buffer (not a string), so what is left
   * in memory is that Buffer and the piece being decoded.
   */
  *inlineAttachmentBytes(id: number, index: number): Generator<Buffer> {
    const base64 = (cachedStatement(this.db, `SELECT CAST(json_extract(attachments_json, ?) AS BLOB) AS b FROM outbound_queue WHERE id = ?`).get(`$[${index}].content`, id) as { b: Buffer | null } | undefined)?.b;
    if (!base64) return;
    const piece = 64 * 1024; // a multiple of 4: every piece decodes on its own; small, so its garbage goes young
    for (let at = 0; at < base64.length; at += piece) yield Buffer.from(base64.subarray(at, at + piece).toString('latin1'), 'base64');
  }

  /** Replaces an entry's attachments (their bytes moved into the message store). */
  replaceAttachments(id: number, attachments: QueuedAttachment[]): void {
    this.db.prepare('UPDATE outbound_queue SET attachments_json = ? WHERE id = ?').run(JSON.stringify(attachments), id);
  }

  /**
   * Messages that look stuck, for the daemon's health: claimed ("sending") since before
   * `sendingBefore`, and due (queued or deferred) since before `dueBefore`; each with how many
   * and the oldest time (ISO 8601), or null when there are none.
   */
  stuck(sendingBefore: Date, dueBefore: Date): { sending: { count: number; oldest: string | null }; overdue: { count: number; oldest: string | null } } {
    const sending = this.db.prepare(`SELECT count(*) AS count, min(updated_at) AS oldest FROM outbound_queue WHERE status = 'sending' AND updated_at < ?`).get(sendingBefore.toISOString()) as { count: number; oldest: string | null };
    const overdue = this.db.prepare(`SELECT count(*) AS count, min(next_attempt_at) AS oldest FROM outbound_queue WHERE status IN ('queued', 'deferred') AND next_attempt_at < ?`).get(dueBefore.toISOString()) as { count: number; oldest: string | null };
    return { sending, overdue };
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
