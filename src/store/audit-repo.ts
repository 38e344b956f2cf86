import type { Clock } from '../clock.js';
import type { Database } from './database.js';

/** Who changed what. Callers pass facts, never secret values. */
export class AuditRepo {
  constructor(private readonly db: Database, private readonly clock: Clock) {}

  record(entry: { actor: string; action: string; target?: string; details?: Record<string, unknown> }): void {
    this.db
      .prepare('INSERT INTO audit_log (at, actor, action, target, details) VALUES (?, ?, ?, ?, ?)')
      .run(this.clock.now().toISOString(), entry.actor, entry.action, entry.target ?? null, entry.details ? JSON.stringify(entry.details) : null);
  }

}
