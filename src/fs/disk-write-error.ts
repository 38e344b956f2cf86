import { dirname } from 'node:path';
import { ExitCode, UserError } from '../errors.js';

/**
 * A write that the filesystem refused for a reason the admin fixes, not mailctl: no space
 * (ENOSPC), no quota left (EDQUOT), or a filesystem mounted read-only (EROFS). Names the path
 * and says what was (not) changed; exit `exitCode` (config 3, secrets 4, store 5).
 */
export class DiskWriteError extends UserError {
  constructor(readonly path: string, readonly reason: 'full' | 'read-only', options: { what: string; exitCode: number; cause: unknown }) {
    const folder = dirname(path);
    super(
      reason === 'full' ? 'E_DISK_FULL' : 'E_READ_ONLY',
      reason === 'full'
        ? `The disk is full: ${options.what} could not be written (${path}); nothing was changed.`
        : `The filesystem is read-only: ${options.what} could not be written (${path}); nothing was changed.`,
      {
        fix: reason === 'full'
          ? `Free space on the filesystem of ${folder} (or raise the quota), then run the command again.`
          : `Remount the filesystem of ${folder} read-write, or point MAILCTL_HOME at a writable folder, then run the command again.`,
        command: reason === 'full' ? `df -h ${folder}` : `findmnt -T ${folder}`,
        exitCode: options.exitCode,
        cause: options.cause,
        details: { path, reason },
      },
    );
  }
}

/**
 * ENOSPC / EDQUOT / EROFS (Node's error codes, POSIX errno names) as a DiskWriteError about
 * `path`; undefined for any other error, which stays what it was.
 */
export function diskWriteError(error: unknown, path: string, options: { what: string; exitCode?: number }): DiskWriteError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reason = code === 'ENOSPC' || code === 'EDQUOT' ? 'full' : code === 'EROFS' ? 'read-only' : undefined;
  return reason ? new DiskWriteError(path, reason, { what: options.what, exitCode: options.exitCode ?? ExitCode.failure, cause: error }) : undefined;
}
