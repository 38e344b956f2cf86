import type { Database } from './database.js';
import type { MessageStore } from './message-store.js';
import { isReferenced } from './store-gc.js';
import { deleteUnreferenced, StoreReservations } from './store-reservations.js';

export interface PurgeRequest {
  /** The content of communications taken (created) before this moment is purged. */
  before: Date;
  /** Why, kept with each communication: "message_retention 90d", "comms purge --older-than 30d". */
  reason: string;
  /** When it happens (communications.content_purged_at). */
  now: Date;
  /** Count what would go; change nothing. */
  dryRun?: boolean;
  /** Asked between groups: true stops the purge there (the daemon stopping, or its time budget spent). */
  stop?: () => boolean;
}

export interface PurgeResult {
  /** Communications whose content was purged (or would be). */
  communications: number;
  /** Stored items (raw messages, attachments) removed from the message store, or that would be. */
  blobs: number;
  /** Their size on disk (compressed), bytes. */
  blobBytes: number;
  /** Text and HTML bodies removed from the database, bytes (UTF-8); the header block stays. */
  bodyBytes: number;
  /** Stored items of purged communications kept because a communication that stays refers to them too. */
  shared: number;
  /** Stored items left because a running writer has reserved them (it is committing a message that refers to them again). */
  reserved: number;
  /** Stored items that were already missing from the store (doctor --only store reports such). */
  alreadyMissing: number;
  /** Outbound messages older than `before` still waiting in the queue (queued, deferred, sending, held): their content is kept. */
  waitingOutbound: number;
  /** False when `stop` ended the purge before every communication was done; the next run carries on. */
  complete: boolean;
}

/** Communications per transaction: short enough that a running daemon's commits never wait long. */
const groupSize = 200;

/** Stored items stat-ed and deleted at once. */
const deleteConcurrency = 16;

/** An outbound message in one of these states may still be sent: its content must stay. */
const waiting = `('queued', 'deferred', 'sending', 'held')`;

/**
 * SQL condition (named parameter @before) on the communication `c`: it has stored content
 * left, was taken before @before, and is not an outbound message still waiting to be sent.
 */
function purgeable(c: string): string {
  return `(${c}.content_purged_at IS NULL AND ${c}.created_at < @before
    AND (${c}.raw_hash IS NOT NULL
      OR EXISTS (SELECT 1 FROM communication_attachments pa WHERE pa.communication_id = ${c}.id)
      OR EXISTS (SELECT 1 FROM communication_content pc WHERE pc.communication_id = ${c}.id AND (pc.text_body IS NOT NULL OR pc.html_body IS NOT NULL)))
    AND NOT EXISTS (SELECT 1 FROM outbound_queue pq WHERE pq.communication_id = ${c}.id AND pq.status IN ${waiting}))`;
}

/** A communication that keeps referring to a blob after this group: not purged, and not purged by this run after the group (@maxId). */
const stays = (x: string) => `${x}.content_purged_at IS NULL AND (${x}.id > @maxId OR NOT ${purgeable(x)})`;

/**
 * Purges the stored content of communications taken before `before`: their raw message and
 * attachments in the message store, and the text and HTML bodies in the database. The
 * communication rows stay (from, to, subject, disposition, the header block, the attachment
 * list with names, sizes and hashes), and so do the records' notes; each purged row is marked
 * with when and why (content_purged_at, content_purge_reason). A stored item that a
 * communication which stays also refers to (a newer duplicate, the same attachment sent again)
 * is kept. An outbound message still waiting in the queue is never purged.
 *
 * Groups of communications are marked in one transaction each, then their freed items are
 * deleted: a crash in between leaves unreferenced items, which store gc (and the daemon at
 * start) removes. A dry run computes the same figures without changing anything.
 */
export async function purgeContent(db: Database, store: MessageStore, request: PurgeRequest): Promise<PurgeResult> {
  const before = request.before.toISOString();
  const result: PurgeResult = { communications: 0, blobs: 0, blobBytes: 0, bodyBytes: 0, shared: 0, reserved: 0, alreadyMissing: 0, waitingOutbound: 0, complete: false };
  result.waitingOutbound = (db.prepare(`SELECT count(*) AS n FROM communications c WHERE c.content_purged_at IS NULL AND c.created_at < @before
    AND EXISTS (SELECT 1 FROM outbound_queue q WHERE q.communication_id = c.id AND q.status IN ${waiting})`).get({ before }) as { n: number }).n;
  const reservations = new StoreReservations(db);

  const nextGroup = db.prepare(`SELECT c.id FROM communications c WHERE c.id > @after AND ${purgeable('c')} ORDER BY c.id LIMIT ${groupSize}`).pluck();
  const hashesOf = db.prepare(`SELECT raw_hash AS hash FROM communications WHERE id IN (SELECT value FROM json_each(@ids)) AND raw_hash IS NOT NULL
    UNION SELECT sha256 FROM communication_attachments WHERE communication_id IN (SELECT value FROM json_each(@ids))`).pluck();
  const referencedAfter = db.prepare(`SELECT 1 FROM communications x WHERE x.raw_hash = @hash AND ${stays('x')}
    UNION ALL SELECT 1 FROM communication_attachments a JOIN communications x ON x.id = a.communication_id WHERE a.sha256 = @hash AND ${stays('x')}
    LIMIT 1`);
  const bodyBytes = db.prepare(`SELECT COALESCE(SUM(COALESCE(length(CAST(text_body AS BLOB)), 0) + COALESCE(length(CAST(html_body AS BLOB)), 0)), 0) AS n
    FROM communication_content WHERE communication_id IN (SELECT value FROM json_each(@ids))`).pluck();
  const mark = db.prepare(`UPDATE communications SET content_purged_at = @now, content_purge_reason = @reason WHERE id IN (SELECT value FROM json_each(@ids))`);
  const dropBodies = db.prepare(`UPDATE communication_content SET text_body = NULL, html_body = NULL WHERE communication_id IN (SELECT value FROM json_each(@ids))`);

  // One group: which communications, which stored items nothing that stays refers to, and (unless dry) mark them.
  const takeGroup = (after: number): { ids: number[]; freed: string[]; shared: number; bodyBytes: number } => {
    const ids = nextGroup.all({ after, before }) as number[];
    if (ids.length === 0) return { ids, freed: [], shared: 0, bodyBytes: 0 };
    const json = JSON.stringify(ids);
    const maxId = ids[ids.length - 1]!;
    const hashes = hashesOf.all({ ids: json }) as string[];
    const freed = hashes.filter((hash) => referencedAfter.get({ hash, maxId, before }) === undefined);
    const bytes = bodyBytes.get({ ids: json }) as number;
    if (!request.dryRun) {
      mark.run({ ids: json, now: request.now.toISOString(), reason: request.reason });
      dropBodies.run({ ids: json });
    }
    return { ids, freed, shared: hashes.length - freed.length, bodyBytes: bytes };
  };
  const inTransaction = db.transaction(takeGroup);

  let after = 0;
  for (;;) {
    if (request.stop?.()) return result;
    const group = request.dryRun ? takeGroup(after) : inTransaction.immediate(after); // reads, then writes: wait for a writer, never SQLITE_BUSY
    if (group.ids.length === 0) break;
    after = group.ids[group.ids.length - 1]!;
    result.communications += group.ids.length;
    result.bodyBytes += group.bodyBytes;
    result.shared += group.shared;
    // A few at a time: each is a stat and an unlink, waiting on the disk rather than the CPU.
    for (let i = 0; i < group.freed.length; i += deleteConcurrency) {
      const slice = group.freed.slice(i, i + deleteConcurrency);
      const present = (await Promise.all(slice.map(async (hash) => ({ hash, entry: await store.stat(hash) })))).filter((p) => {
        if (!p.entry) result.alreadyMissing++;
        return p.entry !== undefined;
      });
      // Decided again under the write lock: a row committed, or a reservation made, since the group was planned keeps it.
      const outcomes = request.dryRun
        ? new Map(present.map((p) => [p.hash, reservations.isReserved(p.hash) ? 'reserved' : 'deleted'] as const))
        : await deleteUnreferenced(db, store, present.map((p) => p.hash), (hash) => isReferenced(db, hash));
      for (const { hash, entry } of present) {
        const outcome = outcomes.get(hash);
        if (outcome === 'referenced') result.shared++;
        else if (outcome === 'reserved') result.reserved++;
        else if (outcome === 'missing') result.alreadyMissing++;
        else {
          result.blobs++;
          result.blobBytes += entry!.storedSize;
        }
      }
    }
    if (group.ids.length < groupSize) break;
  }
  result.complete = true;
  return result;
}
