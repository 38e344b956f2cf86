import { approxSize } from '../../config/units.js';
import type { PurgeResult } from '../../store/purge-content.js';

/** One line for people: what a purge removed (or would remove) and what it kept, and why. */
export function purgeSummary(r: PurgeResult, dryRun = false): string {
  const verb = dryRun ? 'would purge' : 'purged';
  const parts = [`${verb} the content of ${r.communications} communication(s): ${r.blobs} stored item(s), ${approxSize(r.blobBytes)} on disk, ${approxSize(r.bodyBytes)} of text and HTML in the database`];
  if (r.shared > 0) parts.push(`${r.shared} stored item(s) kept: a newer communication refers to them too`);
  if (r.reserved > 0) parts.push(`${r.reserved} stored item(s) left for store gc: a running mailctl is committing a message that refers to them`);
  if (r.alreadyMissing > 0) parts.push(`${r.alreadyMissing} stored item(s) were already missing (mailctl doctor --only store)`);
  if (r.waitingOutbound > 0) parts.push(`${r.waitingOutbound} outbound message(s) still waiting in the queue kept whole`);
  return parts.join('; ');
}
