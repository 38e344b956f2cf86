import { cachedStatement, type Database } from './database.js';

/** When the daemon last completed each periodic task ("purge": the daily retention purge). */
export class HousekeepingRepo {
  constructor(private readonly db: Database) {}

  /** When `task` last completed, or undefined when it never has. */
  lastRun(task: string): Date | undefined {
    const row = cachedStatement(this.db, 'SELECT last_run_at AS at FROM housekeeping WHERE task = ?').get(task) as { at: string } | undefined;
    return row ? new Date(row.at) : undefined;
  }

  /** Records that `task` completed at `at`. */
  completed(task: string, at: Date): void {
    cachedStatement(this.db, 'INSERT INTO housekeeping (task, last_run_at) VALUES (?, ?) ON CONFLICT(task) DO UPDATE SET last_run_at = excluded.last_run_at')
      .run(task, at.toISOString());
  }
}
