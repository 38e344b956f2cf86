import type { HeaderBlock } from '../mime/header-block.js';
import { findReference, type ReferenceSearch, type ReferenceSource } from './find-reference.js';
import { tableHash, type RefKeys } from './reference-codec.js';

/** A decoded reference as shown to people: where a message says it came from. */
export interface ReferenceView {
  /** Where it was found: our header, a Message-ID, In-Reply-To, References, or the subject token. */
  source: ReferenceSource;
  keyId: string;
  /** True when only the subject token survived: no server URL and no rule or workflow. */
  subjectOnly: boolean;
  kb: string;
  serverUrl: string | null;
  /** The table; for a subject token, the known table whose hash matches (null when none does). */
  table: string | null;
  /** The subject token's table hash, when that is all there is. */
  tableHash: string | null;
  recordId: number | null;
  origin: string | null;
  /** ISO time. */
  sentAt: string;
}

/**
 * Looks for this KB's reference in a header block (find-reference's order) and puts it in
 * one shape: a subject token names its table by hash, resolved against `tables()` (asked only then); its KB is
 * this one (`kb`), as only this KB's keys open it. Pure: the caller brings keys and tables.
 */
export function describeReference(headers: HeaderBlock, keys: RefKeys, kb: string, tables: () => readonly string[]): { view: ReferenceView | undefined; rejected: ReferenceSearch['rejected'] } {
  const search = findReference(headers, keys);
  const found = search.found;
  if (!found) return { view: undefined, rejected: search.rejected };
  if (found.kind === 'full') {
    const r = found.reference;
    return {
      view: { source: found.source, keyId: found.keyId, subjectOnly: false, kb: r.kb, serverUrl: r.serverUrl, table: r.table, tableHash: null, recordId: r.recordId, origin: r.origin, sentAt: r.sentAt.toISOString() },
      rejected: search.rejected,
    };
  }
  const r = found.reference;
  return {
    view: { source: 'subject', keyId: found.keyId, subjectOnly: true, kb, serverUrl: null, table: tables().find((t) => tableHash(t) === r.tableHash) ?? null, tableHash: r.tableHash, recordId: r.recordId, origin: null, sentAt: r.sentAt.toISOString() },
    rejected: search.rejected,
  };
}
