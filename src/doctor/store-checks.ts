import { approxSize } from '../config/units.js';
import type { Database } from '../store/database.js';
import { StoredContentCorrupt, StoredContentMissing, type MessageStore } from '../store/message-store.js';
import type { DoctorCheck } from './finding.js';

/** Above this share of the store's filesystem in use (df's Use%): a warning; above `fullError`, an error (the next large message may not fit). */
const fullWarning = 0.9;
const fullError = 0.98;
/** Without --verify-store, the newest content up to this size (uncompressed) is read back and hashed. */
export const verifyBudgetBytes = 256 * 1024 * 1024;
/** Hashes per page when walking every referenced item. */
const pageSize = 1000;
/** Communications named in a finding's "seen" line; the rest are counted. */
const listed = 20;

/** A stored item a communication refers to: its raw message, or one of its attachments. */
interface Use {
  communicationId: number;
  what: string;
}

/** Every communication (with content not purged) that refers to `hash`, and as what. */
function usesOf(db: Database, hash: string): Use[] {
  const raw = db.prepare(`SELECT id FROM communications WHERE raw_hash = ? AND content_purged_at IS NULL ORDER BY id`).pluck().all(hash) as number[];
  const attachments = db.prepare(`SELECT a.communication_id AS id, a.position, a.filename FROM communication_attachments a JOIN communications c ON c.id = a.communication_id
    WHERE a.sha256 = ? AND c.content_purged_at IS NULL ORDER BY a.communication_id, a.position`).all(hash) as Array<{ id: number; position: number; filename: string | null }>;
  return [
    ...raw.map((id) => ({ communicationId: id, what: 'the raw message' })),
    ...attachments.map((a) => ({ communicationId: a.id, what: `attachment ${a.position}${a.filename ? ` ${JSON.stringify(a.filename)}` : ''}` })),
  ];
}

function describeUses(db: Database, hashes: Array<{ hash: string; detail?: string }>): { communications: number[]; seen: string } {
  const lines: string[] = [];
  const ids = new Set<number>();
  for (const { hash, detail } of hashes) {
    for (const use of usesOf(db, hash)) {
      ids.add(use.communicationId);
      lines.push(`communication ${use.communicationId}: ${use.what} (${hash.slice(0, 12)}…${detail ? `, ${detail}` : ''})`);
    }
  }
  const more = lines.length > listed ? `; and ${lines.length - listed} more` : '';
  return { communications: [...ids].sort((a, b) => a - b), seen: lines.slice(0, listed).join('; ') + more };
}

/** Reads the blob through the store's verifying stream; the error when it is missing or does not hash to its name. */
async function verify(store: MessageStore, hash: string): Promise<StoredContentMissing | StoredContentCorrupt | undefined> {
  try {
    const stream = await store.open(hash);
    for await (const chunk of stream) void chunk;
    return undefined;
  } catch (error) {
    if (error instanceof StoredContentMissing || error instanceof StoredContentCorrupt) return error;
    throw error;
  }
}

/** The message store: room on its disk, and every communication's stored content there and intact. */
export const storeChecks: DoctorCheck[] = [
  {
    id: 'store.disk-space',
    symptom: 'store',
    areas: ['store'],
    network: false,
    async run({ messages }, report) {
      if (!messages.filesystem) {
        report.passed({ check: this.id, symptom: this.symptom, summary: `the message store (${messages.location}) is not on a filesystem this check can measure` });
        return;
      }
      const fs = await messages.filesystem();
      // As df counts it: blocks reserved for root are neither used nor free for mailctl.
      const used = fs.used + fs.free > 0 ? fs.used / (fs.used + fs.free) : 0;
      const percent = Math.ceil(used * 100); // rounded up, as df does
      const sizes = `${approxSize(fs.free)} free of ${approxSize(fs.total)}`;
      if (used <= fullWarning) {
        report.passed({ check: this.id, symptom: this.symptom, summary: `the message store's filesystem is ${percent}% full (${sizes}; ${messages.location})` });
        return;
      }
      report.finding({
        check: this.id, symptom: this.symptom, severity: used > fullError ? 'error' : 'warning',
        title: `The message store's filesystem is ${percent}% full`,
        seen: `${sizes} (space available to mailctl) on the filesystem of ${messages.location}`,
        cause: 'Every message is stored before it is taken: when the disk is full, polls fail with E_STORE_FULL and mail waits in its mailboxes (nothing is lost, but nothing arrives).',
        fix: 'Give that filesystem more room or move the data directory; or purge old content (set message_retention for the daemon to purge daily, or purge once by hand), then run store gc.',
        command: 'mailctl comms purge --older-than 365d --dry-run',
      });
    },
  },
  {
    id: 'store.content',
    symptom: 'store',
    areas: ['store'],
    network: false,
    async run({ db, messages, verifyStore }, report) {
      // Every stored item a communication with content refers to, once, in pages (keyset on the hash).
      const page = db.prepare(`SELECT hash FROM (
          SELECT raw_hash AS hash FROM communications WHERE raw_hash IS NOT NULL AND content_purged_at IS NULL AND raw_hash > @after
          UNION SELECT a.sha256 FROM communication_attachments a JOIN communications c ON c.id = a.communication_id WHERE c.content_purged_at IS NULL AND a.sha256 > @after)
        ORDER BY hash LIMIT ${pageSize}`).pluck();
      const missing: string[] = [];
      const corrupt: Array<{ hash: string; detail: string }> = [];
      let items = 0;
      let verified = 0;
      let after = '';
      for (;;) {
        const hashes = page.all({ after }) as string[];
        for (const hash of hashes) {
          items++;
          if (!(await messages.has(hash))) {
            missing.push(hash);
            continue;
          }
          if (verifyStore) {
            const problem = await verify(messages, hash);
            verified++;
            if (problem instanceof StoredContentCorrupt) corrupt.push({ hash, detail: problem.detail });
            else if (problem) missing.push(hash);
          }
        }
        if (hashes.length < pageSize) break;
        after = hashes[hashes.length - 1]!;
      }
      let verifiedBytes = 0;
      if (!verifyStore) {
        // The newest content first, up to the budget: reading back all of a large store takes long.
        const checked = new Set<string>(missing);
        const newest = db.prepare(`SELECT id, raw_hash AS hash, COALESCE(size_bytes, 0) AS size FROM communications WHERE raw_hash IS NOT NULL AND content_purged_at IS NULL AND id < @before
          UNION ALL SELECT a.communication_id, a.sha256, a.size FROM communication_attachments a JOIN communications c ON c.id = a.communication_id WHERE c.content_purged_at IS NULL AND a.communication_id < @before
          ORDER BY 1 DESC LIMIT ${pageSize}`);
        let before = Number.MAX_SAFE_INTEGER;
        outer: for (;;) {
          const rows = newest.all({ before }) as Array<{ id: number; hash: string; size: number }>;
          if (rows.length === 0) break;
          // A page may cut a communication in two: take whole communications only, the rest next page.
          const lastId = rows[rows.length - 1]!.id;
          const whole = rows.length === pageSize && rows.some((r) => r.id !== lastId) ? rows.filter((r) => r.id !== lastId) : rows;
          for (const row of whole) {
            if (verifiedBytes >= verifyBudgetBytes) break outer;
            if (checked.has(row.hash)) continue;
            checked.add(row.hash);
            const problem = await verify(messages, row.hash);
            verified++;
            verifiedBytes += row.size;
            if (problem instanceof StoredContentCorrupt) corrupt.push({ hash: row.hash, detail: problem.detail });
            else if (problem) missing.push(row.hash);
          }
          if (rows.length < pageSize) break;
          before = whole[whole.length - 1]!.id;
        }
      }
      const counts = db.prepare(`SELECT
          (SELECT count(*) FROM communications WHERE content_purged_at IS NOT NULL) AS purged,
          (SELECT count(*) FROM communications c WHERE c.raw_hash IS NULL AND c.content_purged_at IS NULL AND c.direction = 'inbound'
            AND NOT EXISTS (SELECT 1 FROM inbound_message_failures f WHERE f.communication_id = c.id)) AS before,
          (SELECT count(*) FROM inbound_message_failures f JOIN communications c ON c.id = f.communication_id WHERE c.raw_hash IS NULL) AS unfetched`).get() as { purged: number; before: number; unfetched: number };
      const notes: string[] = [];
      if (counts.purged > 0) notes.push(`${counts.purged} communication(s) purged by retention, not checked`);
      if (counts.before > 0) notes.push(`${counts.before} inbound communication(s) from before the message store have no stored content`);
      if (counts.unfetched > 0) notes.push(`${counts.unfetched} quarantined communication(s) have no stored content (none of their bytes arrived)`);
      const coverage = verifyStore
        ? `all ${verified} read back and verified by hash`
        : `${verified} of ${items - missing.length} read back and verified by hash (the newest ${approxSize(verifyBudgetBytes)}; --verify-store reads all)`;
      if (missing.length === 0 && corrupt.length === 0) {
        report.passed({ check: this.id, symptom: this.symptom, summary: `all ${items} stored item(s) communications refer to are in ${messages.location}; ${coverage}${notes.length ? `; ${notes.join('; ')}` : ''}` });
        return;
      }
      if (missing.length > 0) {
        const uses = describeUses(db, missing.map((hash) => ({ hash })));
        report.finding({
          check: this.id, symptom: this.symptom, severity: 'error',
          title: `${uses.communications.length} communication(s) refer to stored content that is missing (${missing.length} item(s))`,
          seen: uses.seen,
          cause: `The files are gone from ${messages.location}: deleted by hand, lost in a disk fault, or a restore of the database without the message store. comms raw and comms attachment fail for these.`,
          fix: `Restore ${messages.location} from the backup taken with the database (restoring more files is harmless: store gc removes what nothing refers to).`,
          command: `mailctl comms show ${uses.communications[0] ?? ''}`.trim(),
        });
      }
      // How much was read back is about the items that are there, not about the missing ones.
      if (corrupt.length === 0) {
        report.passed({ check: this.id, symptom: this.symptom, summary: `the other ${items - missing.length} stored item(s) are there, none corrupt: ${coverage}` });
      }
      if (corrupt.length > 0) {
        const uses = describeUses(db, corrupt);
        report.finding({
          check: this.id, symptom: this.symptom, severity: 'error',
          title: `${uses.communications.length} communication(s) refer to stored content that is corrupt (${corrupt.length} item(s))`,
          seen: uses.seen,
          cause: 'The stored bytes no longer hash to their name: the file was changed or damaged on disk. mailctl refuses to hand out such content.',
          fix: `Restore those files of ${messages.location} from a backup. ${verifyStore ? 'Every stored item was verified.' : 'Only the newest content was verified: run with --verify-store to read back all of it.'}`,
          command: verifyStore ? `mailctl comms show ${uses.communications[0] ?? ''}`.trim() : 'mailctl doctor --only store --verify-store',
        });
      }
    },
  },
];
