import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { ExitCode, UserError } from '../errors.js';
import { databaseDiskError } from './database-full.js';
import { migrations as allMigrations, type Migration } from './migrations.js';

export type Database = BetterSqlite3.Database;

/**
 * Opens (creating if needed) the SQLite database in WAL mode and brings its schema
 * up to date. `upTo` stops at an older version; tests use it to build an "existing"
 * database.
 */
export async function openDatabase(path: string, options: { upTo?: number; migrations?: readonly Migration[] } = {}): Promise<Database> {
  const { default: Sqlite } = await import('better-sqlite3');
  let db: Database;
  try {
    if (path !== ':memory:') {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // Create it 0600 ourselves: it holds people's mail, and SQLite gives -wal/-shm the same mode.
      closeSync(openSync(path, 'a', 0o600));
    }
    db = new Sqlite(path);
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    db.pragma('synchronous = NORMAL');
  } catch (error) {
    const disk = databaseDiskError(error, path);
    if (disk) throw disk;
    throw new UserError('E_DB_OPEN', `The database ${path} cannot be opened: ${(error as Error).message}.`, {
      fix: 'Check that the file is a mailctl database and that this user can write its folder.',
      exitCode: ExitCode.store,
    });
  }
  migrate(db, options.migrations ?? allMigrations, options.upTo);
  return db;
}

const statements = new WeakMap<Database, Map<string, BetterSqlite3.Statement>>();

/**
 * The prepared statement for `sql`, made once per database: preparing cost more than running
 * the statement on the daemon's per-message path. Only for plain get/all/run use: a cached
 * statement is shared, so it must not be switched to pluck/raw/expand mode.
 */
export function cachedStatement(db: Database, sql: string): BetterSqlite3.Statement {
  let cache = statements.get(db);
  if (!cache) statements.set(db, (cache = new Map()));
  let statement = cache.get(sql);
  if (!statement) cache.set(sql, (statement = db.prepare(sql)));
  return statement;
}

/** The schema version the database is at (0 when empty). */
export function schemaVersion(db: Database): number {
  ensureMigrationTable(db);
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  return row.v ?? 0;
}

/** Applies every migration newer than the database, each in its own transaction. */
export function migrate(db: Database, migrations: readonly Migration[], upTo = Infinity): number[] {
  const current = schemaVersion(db);
  const newest = Math.max(0, ...migrations.map((m) => m.version));
  if (current > newest) {
    throw new UserError('E_DB_NEWER', `The database is at schema version ${current}, newer than this mailctl knows (${newest}).`, {
      fix: 'Upgrade mailctl; an older version must not write to a newer database.',
      exitCode: ExitCode.store,
    });
  }
  const applied: number[] = [];
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (migration.version <= current || migration.version > upTo) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
        .run(migration.version, migration.name, new Date().toISOString());
    })();
    applied.push(migration.version);
  }
  return applied;
}

function ensureMigrationTable(db: Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL
  ) STRICT`);
}

/**
 * Runs `work` in an IMMEDIATE transaction whose commit is on disk when this returns: the
 * connection runs `synchronous = NORMAL` (in WAL mode a power loss can lose the last commits,
 * fine for the queue's bookkeeping), but a commit after which mail is deleted from its mailbox
 * must survive a power loss (`synchronous = FULL` for that one commit: one fsync of the WAL).
 */
export function durableTransaction<T>(db: Database, work: () => T): T {
  db.pragma('synchronous = FULL');
  try {
    return db.transaction(work).immediate();
  } finally {
    db.pragma('synchronous = NORMAL');
  }
}
