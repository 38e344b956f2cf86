import { randomBytes } from 'node:crypto';
import { createWriteStream, constants as fsConstants } from 'node:fs';
import { copyFile, link, lstat, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ExitCode, UserError } from '../errors.js';
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
 * Writes a stored blob to `target`, verified: it streams into a temporary file beside the
 * target (mode 0600) and takes the target's name only once every byte hashed right, so a
 * corrupt or missing blob leaves nothing behind (StoredContentCorrupt / StoredContentMissing).
 * An existing target is replaced only with `overwrite` (else OutputFileExists); without it
 * the name is taken with link(), which fails rather than replace a file created meanwhile.
 * Returns the bytes written.
 */
export async function saveStoredContent(store: MessageStore, hash: string, target: string, options: { overwrite: boolean }): Promise<number> {
  if (!options.overwrite && await exists(target)) throw new OutputFileExists(target);
  const source = await store.open(hash);
  const tmp = join(dirname(target), `.${basename(target).slice(0, 100)}.mailctl-${randomBytes(4).toString('hex')}`);
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
    if (options.overwrite) await rename(tmp, target);
    else await takeName(tmp, target);
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

/** True when something has that name; a folder is refused (never written into by accident). */
async function exists(path: string): Promise<boolean> {
  let info;
  try {
    info = await lstat(path);
  } catch {
    return false;
  }
  if (info.isDirectory()) throw new OutputFileUnwritable(path, Object.assign(new Error('is a folder'), { code: 'EISDIR' }));
  return true;
}
