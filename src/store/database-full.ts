import { accessSync, constants as fsConstants, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { ExitCode, UserError } from '../errors.js';
import { DiskWriteError, diskWriteError } from '../fs/disk-write-error.js';

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

/**
 * A failure to open or write the database at `path` that is the disk's, not mailctl's:
 * SQLITE_FULL or ENOSPC as DatabaseFullError, EROFS as DiskWriteError (read-only), exit 5.
 * SQLite words some of these vaguely ("unable to open database file", "disk I/O error" when
 * its -shm cannot grow): for those codes the folder is probed (writable? blocks free?).
 * Undefined for anything else.
 */
export function databaseDiskError(error: unknown, path: string): UserError | undefined {
  const code = String((error as { code?: unknown } | undefined)?.code ?? '');
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') return new DatabaseFullError(path, error);
  const direct = diskWriteError(error, path, { what: 'the database', exitCode: ExitCode.store });
  if (direct) return direct;
  if (!/^SQLITE_(CANTOPEN|READONLY|IOERR)/.test(code)) return undefined;
  const folder = dirname(path);
  try {
    accessSync(folder, fsConstants.W_OK);
  } catch (probe) {
    if ((probe as NodeJS.ErrnoException).code === 'EROFS') return new DiskWriteError(path, 'read-only', { what: 'the database', exitCode: ExitCode.store, cause: error });
  }
  try {
    if (statfsSync(folder).bavail === 0) return new DatabaseFullError(path, error);
  } catch {
    // the folder cannot even be looked at: the error stays SQLite's
  }
  return undefined;
}
