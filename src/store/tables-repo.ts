import { UsageError } from '../errors.js';
import type { Clock } from '../clock.js';
import { cachedStatement, type Database } from './database.js';

export interface TableRow {
  name: string;
  label: string;
  created_at: string;
}

const tableNamePattern = /^[a-z][a-z0-9_]{0,62}$/;

/** The record tables ("contracts", "support_cases"). */
export class TablesRepo {
  constructor(private readonly db: Database, private readonly clock: Clock) {}

  add(name: string, label?: string): TableRow {
    if (!tableNamePattern.test(name)) {
      throw new UsageError('E_TABLE_NAME', `"${name}" is not a valid table name: use lower-case letters, digits and "_", starting with a letter.`);
    }
    if (this.get(name)) throw new UsageError('E_TABLE_EXISTS', `The table "${name}" already exists.`);
    const row: TableRow = { name, label: label ?? name, created_at: this.clock.now().toISOString() };
    cachedStatement(this.db, 'INSERT INTO tables (name, label, created_at) VALUES (@name, @label, @created_at)').run(row);
    return row;
  }

  get(name: string): TableRow | undefined {
    return cachedStatement(this.db, 'SELECT name, label, created_at FROM tables WHERE name = ?').get(name) as TableRow | undefined;
  }

  /** The table, or a usage error naming the known ones. */
  require(name: string): TableRow {
    const row = this.get(name);
    if (!row) {
      const known = this.list().map((t) => t.name);
      throw new UsageError('E_TABLE_UNKNOWN', `There is no table "${name}".`, {
        fix: known.length ? `Known tables: ${known.join(', ')}.` : 'Create it first.',
        command: `mailctl tables add ${name}`,
      });
    }
    return row;
  }

  list(): TableRow[] {
    return cachedStatement(this.db, 'SELECT name, label, created_at FROM tables ORDER BY name').all() as TableRow[];
  }
}
