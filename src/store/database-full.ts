import { dirname } from 'node:path';
import { ExitCode, UserError } from '../errors.js';

/** The database's filesystem has no room (SQLITE_FULL): what was being written is not committed. */
export class DatabaseFullError extends UserError {
  constructor(path: string | undefined, cause: unknown) {
    super('E_DB_FULL', `The database's disk is full${path ? ` (${path})` : ''}: nothing was committed, so mail not yet taken stays in its mailbox and is taken once there is space.`, {
      fix: 'Free space on that filesystem (the database and the message store share the data directory by default).',
      ...(path ? { command: `df -h ${dirname(path)}` } : {}),
      exitCode: ExitCode.store,
      cause,
    });
  }
}

/** SQLite's "database or disk is full" as DatabaseFullError; undefined for any other error. */
export function databaseFull(error: unknown, path?: string): DatabaseFullError | undefined {
  return (error as { code?: unknown } | undefined)?.code === 'SQLITE_FULL' ? new DatabaseFullError(path, error) : undefined;
}
