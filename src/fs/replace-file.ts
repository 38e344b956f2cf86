import { randomBytes } from 'node:crypto';
import { closeSync, constants, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ExitCode } from '../errors.js';
import { diskWriteError } from './disk-write-error.js';

/**
 * Creates `path` for writing and returns its descriptor, only if nothing has that name:
 * O_CREAT|O_EXCL fails with EEXIST on an existing file *and* on a symbolic link (dangling or
 * not), so a link planted at the name is never written through (open(2), "O_EXCL").
 */
export function createExclusive(path: string, mode: number): number {
  return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
}

/** A temporary name beside `target`: hidden, with 64 random bits, so it cannot be guessed in advance. */
export function temporaryPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${randomBytes(8).toString('hex')}.tmp`);
}

export interface ReplaceFileOptions {
  /** Mode of the new file (0600 for everything mailctl keeps). */
  mode: number;
  /** What the file is, for an error ("the config file"). */
  what: string;
  /** Exit code of a full or read-only disk (default 1). */
  exitCode?: number;
}

/**
 * Replaces `path` with `data` atomically and durably: the bytes go to a new temporary file
 * beside it (created exclusively under a random name, mode `options.mode`), which is fsynced,
 * renamed over `path` (rename replaces a link at `path` itself, never its target), and the
 * folder fsynced. Readers see the old file or the new one, never a mix. On any failure the
 * temporary file is removed; ENOSPC / EDQUOT / EROFS become DiskWriteError naming `path`.
 */
export function replaceFile(path: string, data: string | Buffer, options: ReplaceFileOptions): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let temp: string | undefined;
  let fd: number | undefined;
  try {
    for (let tries = 0; fd === undefined; tries++) {
      temp = temporaryPathFor(path);
      try {
        fd = createExclusive(temp, options.mode);
      } catch (error) {
        // Another name is as good; EEXIST three times running is not chance.
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || tries >= 2) {
          temp = undefined;
          throw error;
        }
      }
    }
    for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp!, path);
    temp = undefined;
    syncFolder(dirname(path));
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    if (temp !== undefined) removeQuietly(temp);
    throw diskWriteError(error, path, { what: options.what, exitCode: options.exitCode ?? ExitCode.failure }) ?? error;
  }
}

/** fsync of a folder: makes a rename in it durable (a crash right after cannot bring the old name back). */
function syncFolder(folder: string): void {
  const fd = openSync(folder, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Gone already, or the filesystem refuses even that: nothing more to do here.
  }
}
