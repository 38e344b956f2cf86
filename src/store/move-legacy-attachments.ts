import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Clock } from '../clock.js';
import { attachmentContentType } from '../mime/build-mime.js';
import { CommunicationsRepo } from './communications-repo.js';
import type { Database } from './database.js';
import { HousekeepingRepo } from './housekeeping-repo.js';
import type { MessageStore } from './message-store.js';
import { QueueRepo, type QueuedAttachment } from './queue-repo.js';
import { commitReserved } from './store-reservations.js';

/** The housekeeping task recorded once no queue entry carries attachment bytes any more. */
const task = 'queue-attachments-in-store';

/**
 * Moves the attachment bytes that queue entries from before the message store carry inline
 * (base64 in their attachments JSON) into the message store, one entry at a time (memory: one
 * entry's attachments), and lists them on the entry's communication like any outbound
 * attachment. A communication whose content was purged (message_retention) keeps only the
 * names, sizes and hashes: purged content is not brought back. Done once: when no such entry is
 * left it is recorded in `housekeeping`, and later calls cost one indexed read.
 *
 * An entry whose bytes cannot be stored (disk full) keeps them and is tried again next time;
 * the error is thrown after the others are moved.
 */
export async function moveLegacyQueueAttachments(db: Database, store: MessageStore, clock: Clock): Promise<{ moved: number }> {
  const housekeeping = new HousekeepingRepo(db);
  if (housekeeping.lastRun(task)) return { moved: 0 };
  const queue = new QueueRepo(db, clock);
  const comms = new CommunicationsRepo(db, clock);
  let moved = 0;
  let failure: unknown;
  for (const id of queue.legacyAttachmentIds()) {
    try {
      if (await moveOne(db, store, queue, comms, id)) moved++;
    } catch (error) {
      failure ??= error;
    }
  }
  if (failure) throw failure;
  housekeeping.completed(task, clock.now());
  return { moved };
}

async function moveOne(db: Database, store: MessageStore, queue: QueueRepo, comms: CommunicationsRepo, id: number): Promise<boolean> {
  const entry = queue.attachmentsOf(id);
  if (!entry || !entry.attachments.some((a) => a.inline)) return false;
  const purged = entry.communicationId !== null && Boolean(comms.get(entry.communicationId)?.contentPurgedAt);
  const batch = store.batch();
  const attachments: QueuedAttachment[] = [];
  let release = () => {};
  try {
    for (const [index, { inline, ...a }] of entry.attachments.entries()) {
      if (!inline) {
        attachments.push(a);
        continue;
      }
      // One attachment at a time, decoded as it is stored.
      let stored: { hash: string; size: number };
      if (purged) {
        const hash = createHash('sha256');
        let size = 0;
        for (const bytes of queue.inlineAttachmentBytes(id, index)) {
          hash.update(bytes);
          size += bytes.length;
        }
        stored = { hash: hash.digest('hex'), size };
      } else {
        stored = await batch.put(Readable.from(queue.inlineAttachmentBytes(id, index)));
      }
      attachments.push({ filename: a.filename, contentType: a.contentType ?? attachmentContentType(a.filename), sha256: stored.hash, size: stored.size });
    }
    ({ release } = await commitReserved(db, batch));
  } catch (error) {
    await batch.discard().catch(() => undefined);
    throw error;
  }
  try {
    db.transaction(() => {
      queue.replaceAttachments(id, attachments);
      if (!purged && entry.communicationId !== null && comms.attachments(entry.communicationId).length === 0) {
        comms.insertAttachments(entry.communicationId, attachments.filter((a) => a.sha256).map((a) => ({
          filename: a.filename, contentType: a.contentType ?? 'application/octet-stream', size: a.size ?? 0, sha256: a.sha256!, contentId: null, inline: false,
        })));
      }
    })();
  } finally {
    release();
  }
  return true;
}
