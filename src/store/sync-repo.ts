import type { Database } from './database.js';

export interface SyncState {
  account: string;
  lastPollAt: string | null;
  lastSweepAt: string | null;
  lastOkAt: string | null;
  lastError: string | null;
  failures: number;
  nextPollAt: string | null;
  /** The last mailbox action that did not do what the account asks; null once one does. */
  markWarning: MarkWarning | null;
}

/**
 * A mailbox action (move, delete, mark read) that did not do what the account asks:
 * `failed` — the server refused it (the messages stay where they were, committed, and are
 * marked again next poll); `left-flagged` — the server has no MOVE/UIDPLUS, so the messages
 * were flagged \Deleted \Seen and left in the folder rather than risk a bare EXPUNGE.
 */
export interface MarkWarning {
  kind: 'failed' | 'left-flagged';
  /** The account's after-processing action: "move", "delete", "mark-read". */
  action: string;
  /** When it happened (ISO 8601). */
  at: string;
  /** How many messages it concerned in that poll. */
  messages: number;
  /** Why, in the server's words for a failure. */
  detail: string;
}

/**
 * Per-account polling state: when it last polled and swept, its last error and back-off.
 * "This mailbox is mine" (a lease) is kept as its own operation for when several daemons
 * share a PostgreSQL store.
 */
export class SyncRepo {
  constructor(private readonly db: Database) {}

  /**
   * Forgets an account's polling state (last poll, error, failures, back-off, sweep clock, Graph
   * delta place): for `inbound remove`, so an account configured again under the same table
   * starts clean. What was taken stays taken (communications), as do per-message failure counts.
   */
  forget(account: string): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM inbound_sync WHERE account = ?').run(account);
      this.db.prepare('DELETE FROM graph_delta WHERE account = ?').run(account);
      this.db.prepare('DELETE FROM graph_delta_carried WHERE account = ?').run(account);
    })();
  }

  get(account: string): SyncState {
    const row = this.db.prepare(`SELECT account, last_poll_at AS lastPollAt, last_sweep_at AS lastSweepAt, last_ok_at AS lastOkAt, last_error AS lastError,
      failures, next_poll_at AS nextPollAt, mark_warning AS markWarning FROM inbound_sync WHERE account = ? AND mailbox = 'default'`).get(account) as (Omit<SyncState, 'markWarning'> & { markWarning: string | null }) | undefined;
    if (!row) return { account, lastPollAt: null, lastSweepAt: null, lastOkAt: null, lastError: null, failures: 0, nextPollAt: null, markWarning: null };
    return { ...row, markWarning: parseMarkWarning(row.markWarning) };
  }

  /** Keeps (or clears, with null) the account's mark warning. */
  setMarkWarning(account: string, warning: MarkWarning | null): void {
    this.db.prepare(`INSERT INTO inbound_sync (account, mailbox, mark_warning) VALUES (?, 'default', ?)
      ON CONFLICT(account, mailbox) DO UPDATE SET mark_warning = excluded.mark_warning`).run(account, warning ? JSON.stringify({ ...warning, detail: warning.detail.slice(0, 1000) }) : null);
  }


  recordSuccess(account: string, at: Date, swept: boolean, nextPollAt: Date): void {
    this.db.prepare(`INSERT INTO inbound_sync (account, mailbox, last_poll_at, last_sweep_at, last_ok_at, last_error, failures, next_poll_at)
      VALUES (@account, 'default', @at, @sweep, @at, NULL, 0, @next)
      ON CONFLICT(account, mailbox) DO UPDATE SET last_poll_at = @at, last_ok_at = @at, last_error = NULL, failures = 0, next_poll_at = @next,
        last_sweep_at = COALESCE(@sweep, last_sweep_at)`).run({ account, at: at.toISOString(), sweep: swept ? at.toISOString() : null, next: nextPollAt.toISOString() });
  }

  /** First poll of an account: the sweep clock starts now (old read mail waits for the first sweep). */
  startSweepClock(account: string, at: Date): void {
    this.db.prepare(`INSERT INTO inbound_sync (account, mailbox, last_sweep_at) VALUES (?, 'default', ?)
      ON CONFLICT(account, mailbox) DO UPDATE SET last_sweep_at = COALESCE(last_sweep_at, excluded.last_sweep_at)`).run(account, at.toISOString());
  }

  recordFailure(account: string, at: Date, error: string, nextPollAt: Date): void {
    this.db.prepare(`INSERT INTO inbound_sync (account, mailbox, last_poll_at, last_error, failures, next_poll_at)
      VALUES (@account, 'default', @at, @error, 1, @next)
      ON CONFLICT(account, mailbox) DO UPDATE SET last_poll_at = @at, last_error = @error, failures = failures + 1, next_poll_at = @next`).run({ account, at: at.toISOString(), error: error.slice(0, 1000), next: nextPollAt.toISOString() });
  }
}

function parseMarkWarning(text: string | null): MarkWarning | null {
  if (!text) return null;
  try {
    return JSON.parse(text) as MarkWarning;
  } catch {
    // Not ours (written by hand?): shown as it is rather than hidden.
    return { kind: 'failed', action: 'unknown', at: '', messages: 0, detail: text };
  }
}
