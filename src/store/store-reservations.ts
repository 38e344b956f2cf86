import { hostname } from 'node:os';
import { processAlive } from '../process-alive.js';
import { cachedStatement, type Database } from './database.js';
import type { MessageStore, StoreBatch } from './message-store.js';

/**
 * Blobs this process is placing in the message store and is about to refer to (table
 * store_reservations). The order that makes gc and purge safe beside a writer: the writer
 * reserves its hashes, then places its blobs (a blob already there is touched; one gone is put
 * back from the writer's own copy), commits the rows that refer to them, and releases. gc and
 * purge delete a blob only inside a write transaction that finds it neither referenced nor
 * reserved (deleteIfUnreferenced), so a deletion and a reservation never pass each other.
 */
export class StoreReservations {
  readonly #host = hostname();

  constructor(private readonly db: Database) {}

  /** Reserves `hashes` for this process (committed at once). */
  reserve(hashes: readonly string[]): void {
    if (hashes.length === 0) return;
    const insert = cachedStatement(this.db, 'INSERT OR IGNORE INTO store_reservations (hash, host, pid, reserved_at) VALUES (?, ?, ?, ?)');
    const at = new Date().toISOString();
    this.db.transaction(() => {
      for (const hash of hashes) insert.run(hash, this.#host, process.pid, at);
    })();
  }

  /** Releases this process's reservations of `hashes` (once the rows that refer to them are committed, or given up). */
  release(hashes: readonly string[]): void {
    if (hashes.length === 0) return;
    const remove = cachedStatement(this.db, 'DELETE FROM store_reservations WHERE hash = ? AND host = ? AND pid = ?');
    try {
      this.db.transaction(() => {
        for (const hash of hashes) remove.run(hash, this.#host, process.pid);
      })();
    } catch {
      // The database is closed or full: the rows are cleared as a dead writer's later.
    }
  }

  /** True when a writer that may still be alive holds a reservation of `hash` (one on another host counts as alive). */
  isReserved(hash: string): boolean {
    const rows = cachedStatement(this.db, 'SELECT host, pid FROM store_reservations WHERE hash = ?').all(hash) as Array<{ host: string; pid: number }>;
    return rows.some((r) => r.host !== this.#host || processAlive(r.pid));
  }

  /** Removes the reservations of writers on this host that are gone; returns how many. */
  clearDead(): number {
    const rows = this.db.prepare('SELECT DISTINCT pid FROM store_reservations WHERE host = ?').all(this.#host) as Array<{ pid: number }>;
    let cleared = 0;
    for (const { pid } of rows) {
      if (pid !== process.pid && !processAlive(pid)) cleared += this.db.prepare('DELETE FROM store_reservations WHERE host = ? AND pid = ?').run(this.#host, pid).changes;
    }
    return cleared;
  }
}

/**
 * Commits a store batch under reservations: its blobs are reserved before they are placed. Call
 * the returned `release` after the rows that refer to them are committed (or when giving up).
 * Throws what the batch's commit throws (StoreFullError), with the reservations released.
 */
export async function commitReserved(db: Database, batch: StoreBatch): Promise<{ release: () => void }> {
  const reservations = new StoreReservations(db);
  let reserved: string[] = [];
  const release = () => {
    reservations.release(reserved);
    reserved = [];
  };
  try {
    await batch.commit((hashes) => {
      reserved = [...new Set(hashes)];
      reservations.reserve(reserved);
    });
  } catch (error) {
    release();
    throw error;
  }
  return { release };
}

export type DeleteOutcome = 'deleted' | 'referenced' | 'reserved' | 'missing';

/**
 * Deletes each blob of `hashes` that no communication keeping its content refers to and no live
 * writer has reserved — decided and done under one write transaction of the database, so a
 * writer's reservation cannot slip in between the decision and the deletion. Keep `hashes`
 * short (the lock is held while the files are unlinked). Not re-entrant: one call at a time
 * per connection.
 */
export async function deleteUnreferenced(db: Database, store: MessageStore, hashes: readonly string[], isReferenced: (hash: string) => boolean): Promise<Map<string, DeleteOutcome>> {
  const outcomes = new Map<string, DeleteOutcome>();
  if (hashes.length === 0) return outcomes;
  const reservations = new StoreReservations(db);
  db.exec('BEGIN IMMEDIATE');
  try {
    const doomed: string[] = [];
    for (const hash of hashes) {
      if (isReferenced(hash)) outcomes.set(hash, 'referenced');
      else if (reservations.isReserved(hash)) outcomes.set(hash, 'reserved');
      else doomed.push(hash);
    }
    await Promise.all(doomed.map(async (hash) => outcomes.set(hash, (await store.delete(hash)) ? 'deleted' : 'missing')));
  } finally {
    db.exec('COMMIT');
  }
  return outcomes;
}
