import type { Clock } from '../clock.js';
import { cachedStatement, type Database } from './database.js';

/**
 * Inbound messages that could not be taken (table inbound_message_failures), by account and
 * mailbox key: how often each was tried across polls, why it last failed, and the quarantined
 * communication once it was given up on. Per key, so a message is known again whatever order
 * the mailbox lists it in.
 */
export class MessageFailuresRepo {
  constructor(private readonly db: Database, private readonly clock: Clock) {}

  /** Failed attempts of the account's messages still being tried (not quarantined), by mailbox key. */
  pending(account: string): Map<string, number> {
    const rows = cachedStatement(this.db, 'SELECT mailbox_key AS key, attempts FROM inbound_message_failures WHERE account = ? AND communication_id IS NULL')
      .all(account) as Array<{ key: string; attempts: number }>;
    return new Map(rows.map((r) => [r.key, r.attempts]));
  }

  /** Counts one more failed attempt (committed at once); returns the attempts so far. */
  recordAttempt(account: string, mailboxKey: string, error: string): number {
    const at = this.clock.now().toISOString();
    const row = cachedStatement(this.db, `INSERT INTO inbound_message_failures (account, mailbox_key, attempts, first_failed_at, last_failed_at, last_error)
      VALUES (?, ?, 1, ?, ?, ?)
      ON CONFLICT(account, mailbox_key) DO UPDATE SET attempts = attempts + 1, last_failed_at = excluded.last_failed_at, last_error = excluded.last_error
      RETURNING attempts`).get(account, mailboxKey, at, at, error.slice(0, 1000)) as { attempts: number };
    return row.attempts;
  }

  /** Forgets the failures of a message that was taken after all (call inside its commit). */
  clear(account: string, mailboxKey: string): void {
    cachedStatement(this.db, 'DELETE FROM inbound_message_failures WHERE account = ? AND mailbox_key = ?').run(account, mailboxKey);
  }

  /** Records the communication a message was quarantined as (call inside that commit). */
  setQuarantined(account: string, mailboxKey: string, communicationId: number): void {
    cachedStatement(this.db, 'UPDATE inbound_message_failures SET communication_id = ? WHERE account = ? AND mailbox_key = ?').run(communicationId, account, mailboxKey);
  }

  /**
   * True when the account took some message after this one's last failed attempt: the server
   * delivered other mail since, so a failure of this one that could be the server's is its own.
   */
  othersTakenSinceLastFailure(account: string, mailboxKey: string): boolean {
    return cachedStatement(this.db, `SELECT 1 FROM inbound_message_failures f JOIN communications c ON c.account = f.account
      WHERE f.account = ? AND f.mailbox_key = ? AND c.direction = 'inbound' AND c.mailbox_key IS NOT NULL AND c.created_at > f.last_failed_at LIMIT 1`).get(account, mailboxKey) !== undefined;
  }

  /** True when the message was quarantined because it could not be taken (its bytes may be incomplete). */
  isQuarantined(account: string, mailboxKey: string): boolean {
    return cachedStatement(this.db, 'SELECT 1 FROM inbound_message_failures WHERE account = ? AND mailbox_key = ? AND communication_id IS NOT NULL').get(account, mailboxKey) !== undefined;
  }
}
