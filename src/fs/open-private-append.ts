import { closeSync, constants, fstatSync, lstatSync, openSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ExitCode, UserError } from '../errors.js';
import { diskWriteError } from './disk-write-error.js';
import { UntrustedPathError, untrustedParents, type UntrustedPath } from './trusted-paths.js';

/** A file mailctl appends to at a path the admin gave (the daemon's --log-file). */
export interface AppendTarget {
  path: string;
  /** What it is, for people ("the daemon's log"). */
  what: string;
  /** The flag that names it, for the fix ("--log-file"). */
  flag: string;
}

/** The name is not a regular file of its own: a link, a folder, a FIFO, a device, or a file with other names. */
export class AppendFileRefused extends UserError {
  constructor(readonly target: AppendTarget, readonly kind: string, cause?: unknown) {
    super('E_UNSAFE_FILE', `Refusing to write ${target.what} to ${target.path}: it is ${kind}; mailctl appends only to a regular file of its own (and never follows a link). Nothing was written.`, {
      fix: `Remove it if it is not yours to keep (rm ${target.path}), or give ${target.flag} a new name in a folder only you and root can write; mailctl creates the file (mode 0600).`,
      exitCode: ExitCode.config,
      ...(cause === undefined ? {} : { cause }),
      details: { path: target.path, kind },
    });
  }
}

/** The file cannot be opened for a reason that is not another user's doing (no such folder, permission denied). */
export class AppendFileUnwritable extends UserError {
  constructor(readonly target: AppendTarget, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'its folder does not exist' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (cause as Error).message;
    super('E_FILE_WRITE', `Cannot write ${target.what} to ${target.path}: ${why}.`, {
      fix: `Give ${target.flag} a file in a folder that exists and that this user can write.`,
      exitCode: ExitCode.config,
      cause,
      details: { path: target.path },
    });
  }
}

/**
 * Opens `target.path` to append to, as ssh's StrictModes would trust it: every folder on the
 * way (and the file's own folder) owned by this user or root and not writable by group or
 * others unless sticky (as /tmp) — else UntrustedPathError before anything is created; then
 * open(2) with O_WRONLY|O_APPEND|O_CREAT|O_NOFOLLOW|O_NONBLOCK, mode 0600 (a link at the name
 * fails, ELOOP; a FIFO does not block), and fstat of what was opened: a regular file with one
 * name (a hard link could be another file's), owned by this user or root, not writable by
 * group or others — else the descriptor is closed and AppendFileRefused / UntrustedPathError
 * thrown. Returns the descriptor. ENOSPC/EROFS become DiskWriteError; ENOENT, EACCES
 * AppendFileUnwritable. Where there are no uids (Windows) only the open is done.
 */
export function openPrivateAppend(target: AppendTarget, uid: number | undefined = process.geteuid?.()): number {
  const untrusted = untrustedFolder(target, uid);
  if (untrusted.length > 0) throw new UntrustedPathError(untrusted, elsewhere(target));
  let fd: number;
  try {
    fd = openSync(target.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0), 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // O_NOFOLLOW on a link: ELOOP (Linux), EMLINK (FreeBSD); ENXIO: a FIFO no one reads; EISDIR: a folder.
    if (code === 'ELOOP' || code === 'EMLINK') throw new AppendFileRefused(target, 'a symbolic link', error);
    if (code === 'ENXIO' || code === 'ENODEV') throw new AppendFileRefused(target, 'a FIFO (named pipe), a socket or a device', error);
    if (code === 'EISDIR') throw new AppendFileRefused(target, 'a folder', error);
    throw diskWriteError(error, target.path, { what: target.what, exitCode: ExitCode.config }) ?? new AppendFileUnwritable(target, error);
  }
  try {
    const refusal = judgeOpened(target, fstatSync(fd), uid);
    if (refusal) throw refusal;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return fd;
}

/**
 * What opening `target` would refuse, without creating or opening anything (for doctor): the
 * folders on the way, and what has the name now. Undefined when it would be used.
 */
export function appendTargetProblem(target: AppendTarget, uid: number | undefined = process.geteuid?.()): UserError | undefined {
  const untrusted = untrustedFolder(target, uid);
  if (untrusted.length > 0) return new UntrustedPathError(untrusted, elsewhere(target));
  let info: Stats;
  try {
    info = lstatSync(target.path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' && folderExists(target) ? undefined : new AppendFileUnwritable(target, error);
  }
  if (info.isSymbolicLink()) return new AppendFileRefused(target, 'a symbolic link');
  return judgeOpened(target, info, uid);
}

function elsewhere(target: AppendTarget): string {
  return `give ${target.flag} a file in a folder only you and root can write`;
}

function untrustedFolder(target: AppendTarget, uid: number | undefined): UntrustedPath[] {
  return untrustedParents(dirname(resolve(target.path)), target.what, { uid, judgeLast: true, above: target.path });
}

function folderExists(target: AppendTarget): boolean {
  try {
    return lstatSync(dirname(resolve(target.path))) !== undefined;
  } catch {
    return false;
  }
}

/** Why the file `info` describes must not be appended to; undefined when it may. */
function judgeOpened(target: AppendTarget, info: Stats, uid: number | undefined): UserError | undefined {
  if (info.isDirectory()) return new AppendFileRefused(target, 'a folder');
  if (!info.isFile()) return new AppendFileRefused(target, 'not a regular file (a FIFO, a socket or a device)');
  if (info.nlink > 1) return new AppendFileRefused(target, `a file with ${info.nlink} names (hard links): appending to it could change another file`);
  if (uid === undefined) return undefined;
  const mode = info.mode & 0o777;
  const shown = mode.toString(8).padStart(4, '0');
  if (info.uid !== uid && info.uid !== 0) {
    return new UnsafeAppendFile(target, `owned by uid ${info.uid}, not by this user (uid ${uid}) nor root`, 'read, cut or swap what mailctl writes', {
      fix: `Give ${target.flag} a new name (mailctl creates the file, mode 0600), or remove this one if you do not know why it is theirs.`, command: `rm ${target.path}`, mode, uid: info.uid,
    });
  }
  if ((mode & 0o022) !== 0) {
    const who = (mode & 0o022) === 0o022 ? 'group and others' : mode & 0o002 ? 'others' : 'its group';
    return new UnsafeAppendFile(target, `writable by ${who} (mode ${shown})`, 'write lines of their own into it', {
      fix: 'Check that nothing in it was written by someone else, then make it this user\'s alone.', command: `chmod 600 ${target.path}`, mode, uid: info.uid,
    });
  }
  return undefined;
}

/** A file to append to that another user owns or can write: as StrictModes, refused. */
export class UnsafeAppendFile extends UserError {
  constructor(readonly target: AppendTarget, says: string, risk: string, options: { fix: string; command: string; mode: number; uid: number }) {
    super('E_UNSAFE_PERMISSIONS', `Refusing to write ${target.what} to ${target.path}: it is ${says}, so another user could ${risk}. Nothing was written.`, {
      fix: `${options.fix} Run: ${options.command}`,
      command: options.command,
      exitCode: ExitCode.config,
      details: { path: target.path, mode: options.mode.toString(8).padStart(4, '0'), uid: options.uid },
    });
  }
}
