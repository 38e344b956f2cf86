import { ExitCode, isUserError } from '../errors.js';
import type { MailctlPaths } from '../config/paths.js';
import { pathVanishedError } from '../fs/path-vanished.js';
import { databaseDiskError, databaseFull } from '../store/database-full.js';
import type { Output } from './output.js';

/**
 * Shows a failure the way every command does, and returns its exit code. `paths` names the
 * database in a disk-full or read-only error hit while writing it, and the folders in which a
 * file that went away mid-command is the environment's doing (PathVanishedError), not a bug.
 */
export function renderError(out: Output, thrown: unknown, debug: boolean, paths?: MailctlPaths): number {
  // A full or read-only disk under the database is the admin's to fix, not a bug, wherever it is hit.
  const sqlite = /^SQLITE_/.test(String((thrown as { code?: unknown } | undefined)?.code ?? ''));
  const error = (sqlite && paths ? databaseDiskError(thrown, paths.databasePath) : databaseFull(thrown))
    ?? (paths ? pathVanishedError(thrown, [paths.configDir, paths.dataDir]) : undefined)
    ?? thrown;
  if (isUserError(error)) {
    out.error(error.message);
    if (error.fix) out.error(`  fix: ${error.fix}`);
    if (error.command) out.error(`  try: ${error.command}`);
    if (debug && error.stack) out.error(error.stack);
    out.data({ ok: false, error: { code: error.code, message: error.message, fix: error.fix, command: error.command, ...error.details } });
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  out.error(`mailctl hit an unexpected error (a bug): ${message}`);
  if (debug && error instanceof Error && error.stack) out.error(error.stack);
  else out.error('  run again with --debug for the stack trace, and report it.');
  out.data({ ok: false, error: { code: 'E_BUG', message } });
  return ExitCode.bug;
}
