import type { Clock } from '../clock.js';
import type { Database } from './database.js';

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  details: Record<string, unknown> | null;
}

/** Who changed what. Callers pass facts, never secret values. */
export class AuditRepo {
  constructor(private readonly db: Database, private readonly clock: Clock) {}

  record(entry: { actor: string; action: string; target?: string; details?: Record<string, unknown> }): void {
    this.db
      .prepare('INSERT INTO audit_log (at, actor, action, target, details) VALUES (?, ?, ?, ?, ?)')
      .run(this.clock.now().toISOString(), entry.actor, entry.action, entry.target ?? null, entry.details ? JSON.stringify(entry.details) : null);
  }

  list(limit = 100): AuditEntry[] {
    const rows = this.db.prepare('SELECT id, at, actor, action, target, details FROM audit_log ORDER BY id DESC LIMIT ?').all(limit) as
      Array<Omit<AuditEntry, 'details'> & { details: string | null }>;
    return rows.map((r) => ({ ...r, details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : null }));
  }
}
