import { UsageError } from '../errors.js';
import type { Clock } from '../clock.js';
import { cachedStatement, type Database } from './database.js';

export interface RecordNote {
  id: number;
  author: string;
  body: string;
  communicationId: number | null;
  addedAt: string;
}

export interface RecordRow {
  id: number;
  table: string;
  title: string;
  status: string;
  createdBy: string;
  updatedBy: string;
  createdAt: string;
  updatedAt: string;
  /** References sealed before this time (ISO 8601) no longer update the record; null: none revoked. */
  refsRevokedBefore: string | null;
}

const columns = `id, table_name AS "table", title, status, created_by AS createdBy, updated_by AS updatedBy,
  created_at AS createdAt, updated_at AS updatedAt, refs_revoked_before AS refsRevokedBefore`;

/** Records and their append-only additional notes. */
export class RecordsRepo {
  constructor(private readonly db: Database, private readonly clock: Clock) {}

  create(input: { table: string; title: string; createdBy: string; status?: string }): RecordRow {
    const now = this.clock.now().toISOString();
    const result = cachedStatement(this.db, 'INSERT INTO records (table_name, title, status, created_by, updated_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(input.table, input.title, input.status ?? 'open', input.createdBy, input.createdBy, now, now);
    return this.get(Number(result.lastInsertRowid))!;
  }

  get(id: number): RecordRow | undefined {
    return cachedStatement(this.db, `SELECT ${columns} FROM records WHERE id = ?`).get(id) as RecordRow | undefined;
  }

  require(id: number): RecordRow {
    const row = this.get(id);
    if (!row) throw new UsageError('E_RECORD_UNKNOWN', `There is no record ${id}.`, { command: 'mailctl records list' });
    return row;
  }

  list(filter: { table?: string; limit?: number } = {}): RecordRow[] {
    const limit = filter.limit ?? 100;
    return filter.table
      ? (cachedStatement(this.db, `SELECT ${columns} FROM records WHERE table_name = ? ORDER BY id DESC LIMIT ?`).all(filter.table, limit) as RecordRow[])
      : (cachedStatement(this.db, `SELECT ${columns} FROM records ORDER BY id DESC LIMIT ?`).all(limit) as RecordRow[]);
  }

  /** Appends to the additional notes and sets "updated by"; notes are never rewritten. */
  appendNote(recordId: number, input: { author: string; body: string; communicationId?: number }): RecordNote {
    const now = this.clock.now().toISOString();
    return this.db.transaction(() => {
      const result = cachedStatement(this.db, 'INSERT INTO record_notes (record_id, author, body, communication_id, added_at) VALUES (?, ?, ?, ?, ?)')
        .run(recordId, input.author, input.body, input.communicationId ?? null, now);
      cachedStatement(this.db, 'UPDATE records SET updated_by = ?, updated_at = ? WHERE id = ?').run(input.author, now, recordId);
      return { id: Number(result.lastInsertRowid), author: input.author, body: input.body, communicationId: input.communicationId ?? null, addedAt: now };
    })();
  }

  /**
   * Revokes every reference sent for the record until now: a reply carrying one no longer
   * updates it (mail sent afterwards carries new references, which do).
   */
  revokeReferences(recordId: number): RecordRow {
    cachedStatement(this.db, 'UPDATE records SET refs_revoked_before = ? WHERE id = ?').run(this.clock.now().toISOString(), recordId);
    return this.get(recordId)!;
  }

  notes(recordId: number): RecordNote[] {
    return cachedStatement(this.db, 'SELECT id, author, body, communication_id AS communicationId, added_at AS addedAt FROM record_notes WHERE record_id = ? ORDER BY id')
      .all(recordId) as RecordNote[];
  }
}
