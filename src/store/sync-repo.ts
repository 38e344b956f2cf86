import type { Database } from './database.js';

export interface SyncState {
  account: string;
  lastPollAt: string | null;
  lastSweepAt: string | null;
  lastOkAt: string | null;
  lastError: string | null;
  failures: number;
  nextPollAt: string | null;
}

/**
 * Per-account polling state: when it last polled and swept, its last error and back-off.
 * "This mailbox is mine" (a lease) is kept as its own operation for when several daemons
 * share a PostgreSQL store.
 */
export class SyncRepo {
  constructor(private readonly db: Database) {}

  get(account: string): SyncState {
    const row = this.db.prepare(`SELECT account, last_poll_at AS lastPollAt, last_sweep_at AS lastSweepAt, last_ok_at AS lastOkAt, last_error AS lastError,
      failures, next_poll_at AS nextPollAt FROM inbound_sync WHERE account = ? AND mailbox = 'default'`).get(account) as SyncState | undefined;
    return row ?? { account, lastPollAt: null, lastSweepAt: null, lastOkAt: null, lastError: null, failures: 0, nextPollAt: null };
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
