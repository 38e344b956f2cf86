import { cachedStatement, type Database } from './database.js';
import { FsMessageStore } from './fs-message-store.js';
import type { MessageStore, StoredEntry } from './message-store.js';
import { deleteUnreferenced, StoreReservations } from './store-reservations.js';

/** Blobs decided and deleted under one write lock. */
const deleteBatch = 16;
import { processAlive } from '../process-alive.js';

export interface GcResult {
  /** Blobs no communication refers to, removed (or that would be, with dryRun). */
  removed: number;
  removedBytes: number;
  /** Unreferenced blobs left because a live writer has reserved them (it is about to commit rows that refer to them). */
  reserved: number;
  /** Temporary files of dead processes removed (or that would be). */
  temporaries: number;
}

/**
 * True when a communication whose content is not purged refers to `hash`, as its raw message
 * or as one of its attachments (outbound attachments are linked when they are queued).
 */
export function isReferenced(db: Database, hash: string): boolean {
  return cachedStatement(db, `SELECT 1 FROM communications WHERE raw_hash = ? AND content_purged_at IS NULL
    UNION ALL SELECT 1 FROM communication_attachments a JOIN communications c ON c.id = a.communication_id WHERE a.sha256 = ? AND c.content_purged_at IS NULL
    LIMIT 1`).get(hash, hash) !== undefined;
}

/**
 * Removes the blobs that nothing refers to: what a crash between storing a message and
 * committing its rows left behind, and what a purge freed. A blob a live writer has reserved is
 * left alone; each deletion is decided under the database's write lock (deleteIfUnreferenced).
 */
export async function collectGarbage(db: Database, store: MessageStore, options: { dryRun?: boolean } = {}): Promise<GcResult> {
  const reservations = new StoreReservations(db);
  if (!options.dryRun) reservations.clearDead();
  const result: GcResult = { removed: 0, removedBytes: 0, reserved: 0, temporaries: 0 };
  const candidates: StoredEntry[] = [];
  const settle = async () => {
    const entries = candidates.splice(0);
    const outcomes = options.dryRun
      ? new Map(entries.map((e) => [e.hash, reservations.isReserved(e.hash) ? 'reserved' : 'deleted'] as const))
      : await deleteUnreferenced(db, store, entries.map((e) => e.hash), (hash) => isReferenced(db, hash));
    for (const entry of entries) {
      const outcome = outcomes.get(entry.hash);
      if (outcome === 'reserved') result.reserved++;
      if (outcome !== 'deleted') continue;
      result.removed++;
      result.removedBytes += entry.storedSize;
    }
  };
  for await (const entry of store.list()) {
    if (isReferenced(db, entry.hash)) continue;
    candidates.push(entry);
    if (candidates.length >= deleteBatch) await settle();
  }
  await settle();
  if (store instanceof FsMessageStore) result.temporaries = await store.removeStaleTemporaries((pid) => pid === process.pid || processAlive(pid), { dryRun: Boolean(options.dryRun) });
  return result;
}
