import { cachedStatement, type Database } from './database.js';
import { FsMessageStore } from './fs-message-store.js';
import type { MessageStore } from './message-store.js';
import { StoreWritersRepo } from './store-writers-repo.js';
import { processAlive } from '../process-alive.js';

export interface GcResult {
  /** Blobs no communication refers to, removed (or that would be, with dryRun). */
  removed: number;
  removedBytes: number;
  /** Unreferenced blobs left because a live writer may still commit rows that refer to them. */
  keptRecent: number;
  /** Temporary files of dead processes removed. */
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
 * committing its rows left behind, and what a purge freed. A blob newer than the oldest live
 * writer's start is left alone (that writer may be about to commit rows that refer to it).
 */
export async function collectGarbage(db: Database, store: MessageStore, options: { dryRun?: boolean } = {}): Promise<GcResult> {
  const oldestWriter = new StoreWritersRepo(db).oldestLiveWriterStart();
  const cutoff = Math.min(oldestWriter?.getTime() ?? Infinity, Date.now());
  const result: GcResult = { removed: 0, removedBytes: 0, keptRecent: 0, temporaries: 0 };
  for await (const entry of store.list()) {
    if (isReferenced(db, entry.hash)) continue;
    if (entry.modifiedAt.getTime() >= cutoff) {
      result.keptRecent++;
      continue;
    }
    if (!options.dryRun) await store.delete(entry.hash);
    result.removed++;
    result.removedBytes += entry.storedSize;
  }
  if (!options.dryRun && store instanceof FsMessageStore) result.temporaries = await store.removeStaleTemporaries((pid) => pid === process.pid || processAlive(pid));
  return result;
}
