import type { Database } from './database.js';

/**
 * The notices sent to rejected senders, by the mailbox they reach (see mailboxOf): what the
 * per-recipient interval (reject_notice_interval, RFC 3834 §2) and the hourly cap count. Kept
 * apart from the queue, so a notice deleted from the queue still counts.
 */
export class RejectNoticesRepo {
  constructor(private readonly db: Database) {}

  /** When the last notice to `mailbox` was queued at or after `since` (ISO 8601), or undefined. */
  lastTo(mailbox: string, since: Date): string | undefined {
    const row = this.db.prepare('SELECT max(queued_at) AS at FROM reject_notices WHERE mailbox = ? AND queued_at >= ?').get(mailbox, since.toISOString()) as { at: string | null };
    return row.at ?? undefined;
  }

  /** How many notices were queued at or after `since`. */
  countSince(since: Date): number {
    return (this.db.prepare('SELECT count(*) AS n FROM reject_notices WHERE queued_at >= ?').get(since.toISOString()) as { n: number }).n;
  }

  /** Records a notice queued to `mailbox` at `at`; forgets those older than `keepSince` (no interval reaches that far). */
  record(mailbox: string, at: Date, keepSince: Date): void {
    this.db.prepare('INSERT INTO reject_notices (mailbox, queued_at) VALUES (?, ?)').run(mailbox, at.toISOString());
    this.db.prepare('DELETE FROM reject_notices WHERE queued_at < ?').run(keepSince.toISOString());
  }
}
