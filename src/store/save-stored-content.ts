import { randomBytes } from 'node:crypto';
import { createWriteStream, constants as fsConstants } from 'node:fs';
import { copyFile, link, lstat, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Stats } from 'node:fs';
import { ExitCode, UserError } from '../errors.js';
import { cutToBytes, maxNameBytes } from '../mime/safe-filename.js';
import type { MessageStore } from './message-store.js';

/** The file to write exists, and overwriting was not asked for. */
export class OutputFileExists extends UserError {
  constructor(readonly path: string) {
    super('E_FILE_EXISTS', `${path} exists already; nothing was written.`, {
      fix: 'Choose another file name, or pass --force to replace it.',
      exitCode: ExitCode.failure,
      details: { path },
    });
  }
}

/** The file cannot be written (no such folder, permission denied, disk full). */
export class OutputFileUnwritable extends UserError {
  constructor(path: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'its folder does not exist' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOSPC' ? 'the disk is full'
      : code === 'EISDIR' ? 'it is a folder' : (cause as Error).message;
    super('E_FILE_WRITE', `Cannot write ${path}: ${why}; nothing was written.`, { exitCode: ExitCode.failure, cause, details: { path } });
  }
}

/**
 * Something that is not a regular file has the name (a symbolic link, a folder, a device, a
 * FIFO, a socket): never written through, never replaced, not even with --force — replacing
 * /dev/null or following a link somewhere else is never what the admin meant.
 */
export class OutputNotRegularFile extends UserError {
  constructor(readonly path: string, readonly kind: string) {
    super('E_FILE_NOT_REGULAR', `${path} is ${kind}: mailctl writes only to a new file or replaces a regular one (with --force)${kind === 'a symbolic link' ? ', and does not follow links' : ''}; nothing was written.`, {
      fix: 'Choose another file name; to write to standard output, use -o - (or leave -o out for comms raw).',
      exitCode: ExitCode.failure,
      details: { path, kind },
    });
  }
}

/** What an existing name is, in words, when it is not a regular file. */
function notRegular(info: Stats): string | undefined {
  if (info.isFile()) return undefined;
  return info.isSymbolicLink() ? 'a symbolic link' : info.isDirectory() ? 'a folder' : info.isFIFO() ? 'a FIFO (named pipe)' : info.isSocket() ? 'a socket'
    : info.isCharacterDevice() || info.isBlockDevice() ? 'a device' : 'not a regular file';
}

/**
 * Throws OutputFileExists when something has that name and `overwrite` is off, and
 * OutputNotRegularFile when it is not a regular file (whatever `overwrite` says).
 */
async function checkTarget(path: string, overwrite: boolean): Promise<void> {
  let info: Stats;
  try {
    info = await lstat(path);
  } catch {
    return;
  }
  const kind = notRegular(info);
  if (kind) throw new OutputNotRegularFile(path, kind);
  if (!overwrite) throw new OutputFileExists(path);
}

/** The temporary file's name beside `target`: hidden, unique, at most 255 bytes however long the target's name is. */
function temporaryName(target: string): string {
  const suffix = `.mailctl-${randomBytes(4).toString('hex')}`;
  return join(dirname(target), `.${cutToBytes(basename(target), maxNameBytes - 1 - suffix.length)}${suffix}`);
}

/**
 * Writes a stored blob to `target`, verified: it streams into a temporary file beside the
 * target (mode 0600) and takes the target's name only once every byte hashed right, so a
 * corrupt or missing blob leaves nothing behind (StoredContentCorrupt / StoredContentMissing).
 * An existing regular file is replaced only with `overwrite` (else OutputFileExists); anything
 * else at that name (a symbolic link, a device, a FIFO, a folder) is never replaced nor
 * written through (OutputNotRegularFile). Without `overwrite` the name is taken with link(),
 * which fails rather than replace a file created meanwhile. Returns the bytes written.
 */
export async function saveStoredContent(store: MessageStore, hash: string, target: string, options: { overwrite: boolean }): Promise<number> {
  await checkTarget(target, options.overwrite);
  const source = await store.open(hash);
  const tmp = temporaryName(target);
  const out = createWriteStream(tmp, { flags: 'wx', mode: 0o600 });
  try {
    await pipeline(source, out);
    const handle = await open(tmp, fsConstants.O_RDONLY);
    try { await handle.sync(); } finally { await handle.close(); }
  } catch (error) {
    source.destroy();
    await unlink(tmp).catch(() => undefined);
    if (error instanceof UserError) throw error;
    throw new OutputFileUnwritable(target, error);
  }
  try {
    if (options.overwrite) {
      // Again just before: rename() would replace a device node or a link put there meanwhile.
      await checkTarget(target, true);
      await rename(tmp, target);
    } else {
      await takeName(tmp, target);
    }
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    if (error instanceof UserError) throw error;
    throw new OutputFileUnwritable(target, error);
  }
  return out.bytesWritten;
}

/**
 * Reads a stored blob through, checking its hash, and throws what `open` or the stream does;
 * for writing to a pipe, where bytes once written cannot be taken back.
 */
export async function verifyStoredContent(store: MessageStore, hash: string): Promise<number> {
  let bytes = 0;
  await pipeline(await store.open(hash), new Writable({
    write(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      done();
    },
  }));
  return bytes;
}

/** Gives `tmp` the name `target` unless `target` exists (then OutputFileExists). */
async function takeName(tmp: string, target: string): Promise<void> {
  try {
    await link(tmp, target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new OutputFileExists(target);
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV' && code !== 'EOPNOTSUPP') throw error;
    // A filesystem without hard links: an exclusive copy still never replaces a file.
    try {
      await copyFile(tmp, target, fsConstants.COPYFILE_EXCL);
    } catch (copyError) {
      if ((copyError as NodeJS.ErrnoException).code === 'EEXIST') throw new OutputFileExists(target);
      throw copyError;
    }
  }
  await unlink(tmp);
}
