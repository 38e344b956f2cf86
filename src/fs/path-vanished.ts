import { sep } from 'node:path';
import { ExitCode, UserError } from '../errors.js';

/**
 * A file or folder of mailctl's went away (or a folder on the way became a file) while a
 * command was using it: something else is moving or removing it. Not a bug in mailctl.
 */
export class PathVanishedError extends UserError {
  constructor(readonly path: string, cause: unknown) {
    super('E_PATH_VANISHED', `${path} went away while mailctl was using it (${(cause as NodeJS.ErrnoException).code}): something else removed, moved or replaced it.`, {
      fix: 'Find out what else changes this folder (another user, a cleanup job, a second KB pointed at the same folder) and stop it, then run the command again.',
      exitCode: ExitCode.config,
      cause,
      details: { path },
    });
  }
}

/**
 * ENOENT / ENOTDIR (Node's errno errors, which carry the path) on a path inside one of
 * `folders` (mailctl's config and data folders) as a PathVanishedError; undefined otherwise.
 */
export function pathVanishedError(error: unknown, folders: readonly string[]): PathVanishedError | undefined {
  const e = error as NodeJS.ErrnoException | undefined;
  if (!e || (e.code !== 'ENOENT' && e.code !== 'ENOTDIR') || typeof e.path !== 'string') return undefined;
  const path = e.path;
  return folders.some((f) => path === f || path.startsWith(f.endsWith(sep) ? f : f + sep)) ? new PathVanishedError(path, error) : undefined;
}
