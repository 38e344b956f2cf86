import { hostname } from 'node:os';
import { processAlive } from '../process-alive.js';
import type { Database } from './database.js';

/**
 * Processes that put content into the message store. Between a put and the commit of the rows
 * that refer to it, a blob looks like an orphan; gc leaves alone what a live writer may still
 * commit (blobs newer than the oldest live writer's start), and clears what a dead one left.
 */
export class StoreWritersRepo {
  constructor(private readonly db: Database) {}

  /** This process starts writing; returns the function that says it has stopped. */
  register(): () => void {
    const host = hostname();
    // Real time, not the clock: it is compared with the files' modification times.
    this.db.prepare('INSERT OR REPLACE INTO store_writers (pid, host, started_at) VALUES (?, ?, ?)').run(process.pid, host, new Date().toISOString());
    return () => {
      try {
        this.db.prepare('DELETE FROM store_writers WHERE pid = ? AND host = ?').run(process.pid, host);
      } catch {
        // the database is closed already: the row is cleared as a dead writer's
      }
    };
  }

  /**
   * When the oldest live writer other than this process started (undefined when none), after
   * removing the rows of writers on this host that are gone. A writer on another host counts
   * as live (its liveness cannot be seen from here).
   */
  oldestLiveWriterStart(): Date | undefined {
    const host = hostname();
    const rows = this.db.prepare('SELECT pid, host, started_at AS startedAt FROM store_writers').all() as Array<{ pid: number; host: string; startedAt: string }>;
    let oldest: number | undefined;
    for (const row of rows) {
      if (row.host === host && row.pid === process.pid) continue;
      if (row.host === host && !processAlive(row.pid)) {
        this.db.prepare('DELETE FROM store_writers WHERE pid = ? AND host = ?').run(row.pid, row.host);
        continue;
      }
      const at = Date.parse(row.startedAt);
      oldest = oldest === undefined ? at : Math.min(oldest, at);
    }
    return oldest === undefined ? undefined : new Date(oldest);
  }
}
