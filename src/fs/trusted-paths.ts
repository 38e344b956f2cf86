import { lstatSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import type { MailctlPaths } from '../config/paths.js';
import { ExitCode, UserError } from '../errors.js';

/**
 * A folder or file mailctl reads its settings, secrets or mail from; or (kind 'parents') the
 * way to a folder: every folder the system goes through to reach it, from / down, following
 * links as the kernel does.
 */
export interface PathToTrust {
  path: string;
  kind: 'folder' | 'file' | 'parents';
  /** What it holds, for people ("the configuration"). */
  holds: string;
}

/** A path another user could have changed: not ours (nor root's), or writable by group or others. */
export interface UntrustedPath {
  /** The folder, file or link found wanting. */
  path: string;
  kind: 'folder' | 'file' | 'link';
  /** What it holds; for a folder above mailctl's, what lies below it. */
  holds: string;
  /** For a folder (or link) on the way to mailctl's folder: that folder. */
  above?: string;
  problem: 'owner' | 'writable';
  /** Permission bits (0o777). */
  mode: number;
  /** The owner's uid. */
  uid: number;
  /** The problem in words ("writable by others (mode 0666)"). */
  says: string;
  /** The shell command that makes it safe. */
  command: string;
}

/** The parts of mailctl's files, by which store reads them. */
export type TrustedPart = 'config' | 'secrets' | 'database' | 'messages';

/** The folders and files of `parts` (MAILCTL_HOME, or the XDG config and data folders, and what is in them). */
export function pathsToTrust(paths: MailctlPaths, parts: readonly TrustedPart[]): PathToTrust[] {
  const list: PathToTrust[] = [];
  const add = (path: string, kind: PathToTrust['kind'], holds: string) => {
    if (!list.some((p) => p.path === path && p.kind === kind)) list.push({ path, kind, holds });
  };
  const config = () => {
    add(paths.configDir, 'parents', 'mailctl\'s configuration');
    add(paths.configDir, 'folder', 'mailctl\'s configuration');
  };
  const data = () => {
    add(paths.dataDir, 'parents', 'mailctl\'s data');
    add(paths.dataDir, 'folder', 'mailctl\'s data');
  };
  for (const part of parts) {
    if (part === 'config') {
      config();
      add(join(paths.configDir, 'config.json'), 'file', 'the configuration');
    } else if (part === 'secrets') {
      config();
      add(paths.secretKeyPath, 'file', 'the master key of the secret file');
      data();
      add(paths.secretFilePath, 'file', 'the encrypted secrets');
    } else if (part === 'database') {
      data();
      for (const suffix of ['', '-wal', '-shm']) add(paths.databasePath + suffix, 'file', 'the database');
    } else {
      data();
      add(paths.messageStoreDir, 'folder', 'the message store');
      add(join(paths.messageStoreDir, 'objects'), 'folder', 'the message store');
      add(join(paths.messageStoreDir, 'tmp'), 'folder', 'the message store');
    }
  }
  return list;
}

/**
 * Which of `paths` another local user could have changed, as OpenSSH's StrictModes judges
 * (sshd_config(5), and its secure_path() for the folders above): a folder or file owned by
 * neither this user nor root, or writable by group or others; for 'parents', any folder on the
 * way that is so (writable is fine there with the sticky bit, as /tmp: others cannot rename
 * what is not theirs), or a link on the way owned by another user. Follows symbolic links
 * (what counts is the file read). Missing paths are skipped: mailctl creates them 0700 / 0600.
 * Empty where there are no uids (Windows). Throws PathChangedError when a link on the way
 * changes while it is read.
 */
export function untrustedPaths(paths: readonly PathToTrust[], uid: number | undefined = process.geteuid?.()): UntrustedPath[] {
  if (uid === undefined) return [];
  const found: UntrustedPath[] = [];
  const push = (f: UntrustedPath) => {
    if (!found.some((g) => g.path === f.path)) found.push(f);
  };
  for (const p of paths) {
    if (p.kind === 'parents') {
      for (const f of untrustedParents(p.path, p.holds, { uid })) push(f);
      continue;
    }
    let info;
    try {
      info = statSync(p.path);
    } catch {
      continue; // missing (created safely later) or unreadable (the read itself will say so)
    }
    const mode = info.mode & 0o777;
    const shown = mode.toString(8).padStart(4, '0');
    if (info.uid !== uid && info.uid !== 0) {
      push({ ...p, kind: p.kind, problem: 'owner', mode, uid: info.uid, says: `owned by uid ${info.uid}, not by this user (uid ${uid})`, command: `chown ${thisUser(uid)} ${p.path}` });
    } else if ((mode & 0o022) !== 0) {
      push({ ...p, kind: p.kind, problem: 'writable', mode, uid: info.uid, says: `writable by ${writers(mode)} (mode ${shown})`, command: `chmod ${p.kind === 'folder' ? '700' : '600'} ${p.path}` });
    }
  }
  return found;
}

/** Links followed on the way to one path before giving up, as the kernel does (ELOOP; path_resolution(7)). */
const maxLinks = 40;

/**
 * The folders (and links) on the way to `target` that another user could change, so as to put
 * their own folder or file at `target`: the walk goes component by component from / as the
 * kernel resolves a path (path_resolution(7)), judging every folder a name is looked up in —
 * owned by this user or root, not writable by group or others unless sticky — and every link
 * followed (owned by this user or root). `target` itself is judged only with `judgeLast` (then
 * as a folder on the way: sticky is fine); `above` names what the walk leads to in the
 * findings (default `target`). Stops quietly where the path does not exist yet
 * (mailctl creates the rest, 0700). Throws PathChangedError when a link vanishes as it is read,
 * and NotAFolderError when a file stands where a folder must be.
 */
export function untrustedParents(target: string, holds: string, options: { uid?: number | undefined; judgeLast?: boolean; above?: string } = {}): UntrustedPath[] {
  const uid = options.uid ?? process.geteuid?.();
  if (uid === undefined) return [];
  const found: UntrustedPath[] = [];
  const above = options.above ?? (isAbsolute(target) ? target : join(process.cwd(), target));
  const judged = new Set<string>();
  const judge = (folder: string, info: Stats) => {
    if (judged.has(folder)) return;
    judged.add(folder);
    const problem = untrustedFolder(folder, info, uid, holds, above);
    if (problem) found.push(problem);
  };
  const pending = components(target);
  let current = '/';
  let links = 0;
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (name === '..') {
      current = dirname(current); // `current` holds no links: its parent by name is its parent
      continue;
    }
    // Whoever can write the folder a name is looked up in can change what the name means.
    const here = statOrUndefined(current, lstatSync);
    if (!here) return found; // it went away: the use that follows says so
    judge(current, here);
    const next = join(current, name);
    const info = statOrUndefined(next, lstatSync);
    if (!info) return found; // not there yet: mailctl creates it (0700), inside a folder judged above
    if (info.isSymbolicLink()) {
      if (info.uid !== uid && info.uid !== 0) {
        found.push({ path: next, kind: 'link', holds, above, problem: 'owner', mode: info.mode & 0o777, uid: info.uid,
          says: `a symbolic link owned by uid ${info.uid}, not by this user (uid ${uid}) nor root`, command: `rm ${next}` });
        return found; // where it leads is theirs to choose
      }
      if (++links > maxLinks) throw new NotAFolderError(target, `${target} leads through more than ${maxLinks} symbolic links (a loop)`);
      let link: string;
      try {
        link = readlinkSync(next);
      } catch (error) {
        throw new PathChangedError(next, error);
      }
      pending.unshift(...components(link));
      if (isAbsolute(link)) current = '/';
      continue;
    }
    if (!info.isDirectory()) {
      if (pending.length === 0 && !options.judgeLast) return found; // a file at the end is the caller's to judge
      throw new NotAFolderError(target, `${next} is not a folder`);
    }
    current = next;
  }
  if (options.judgeLast) {
    const last = statOrUndefined(current, lstatSync);
    if (last) judge(current, last);
  }
  return found;
}

/** The folder `folder` as a folder on the way to `target`, when another user could change what is in it. */
function untrustedFolder(folder: string, info: Stats, uid: number, holds: string, target: string): UntrustedPath | undefined {
  const mode = info.mode & 0o7777;
  const shown = mode.toString(8).padStart(4, '0');
  if (info.uid !== uid && info.uid !== 0) {
    return { path: folder, kind: 'folder', holds, above: target, problem: 'owner', mode, uid: info.uid, says: `owned by uid ${info.uid}, not by this user (uid ${uid}) nor root`, command: `chown root ${folder}` };
  }
  if ((mode & 0o022) !== 0 && (mode & 0o1000) === 0) {
    return { path: folder, kind: 'folder', holds, above: target, problem: 'writable', mode, uid: info.uid, says: `writable by ${writers(mode)} (mode ${shown}) without the sticky bit`, command: `chmod go-w ${folder}` };
  }
  return undefined;
}

function writers(mode: number): string {
  return (mode & 0o022) === 0o022 ? 'group and others' : mode & 0o002 ? 'others' : 'its group';
}

/** The names in `path`, in order (relative ones after the working folder's); "." dropped, ".." kept for the walk. */
function components(path: string): string[] {
  const absolute = isAbsolute(path) ? path : join(process.cwd(), path);
  return absolute.split('/').filter((n) => n !== '' && n !== '.');
}

function statOrUndefined(path: string, stat: (p: string) => Stats): Stats | undefined {
  try {
    return stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES') return undefined; // created later, or the use itself says "permission denied"
    if (code === 'ENOTDIR') throw new NotAFolderError(path, `a file stands on the way to ${path}`);
    throw error;
  }
}

/** A link on the way to mailctl's folder changed while it was being checked: someone is changing it now. */
export class PathChangedError extends UserError {
  constructor(readonly path: string, cause: unknown) {
    super('E_PATH_CHANGED', `${path} changed while mailctl was checking it (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}); mailctl has not used it.`, {
      fix: 'Something is renaming or replacing the folders on this path right now: find out what (another user, a cleanup job), then run again.',
      exitCode: ExitCode.config,
      cause,
      details: { path },
    });
  }
}

/** A file (or a link loop) stands where the path needs a folder. */
export class NotAFolderError extends UserError {
  constructor(readonly path: string, why: string) {
    super('E_NOT_A_FOLDER', `Cannot use ${path}: ${why}.`, {
      fix: 'Point MAILCTL_HOME (or XDG_CONFIG_HOME / XDG_DATA_HOME, or the --log-file) at a folder.',
      exitCode: ExitCode.config,
      details: { path },
    });
  }
}

/** Another user could have changed a file mailctl would trust: refused, with the commands that fix it. */
export class UntrustedPathError extends UserError {
  /** `elsewhere`: the other way out, for people ("set MAILCTL_HOME to a folder only you and root can reach"). */
  constructor(readonly found: UntrustedPath[], elsewhere = 'set MAILCTL_HOME to a folder only you and root can reach') {
    const first = found[0]!;
    const more = found.length > 1 ? ` (also: ${found.slice(1).map((f) => `${f.path} is ${f.says}`).join('; ')})` : '';
    const owner = found.some((f) => f.problem === 'owner');
    const risk = first.above
      ? `another user could put a folder or file of their own in place of ${first.above} (${first.holds})`
      : `another user could have changed ${first.holds}`;
    super('E_UNSAFE_PERMISSIONS', `Refusing to use ${first.path}: it is ${first.says}, so ${risk}${more}. mailctl has not read it.`, {
      fix: first.above
        ? owner
          ? `${elsewhere[0]!.toUpperCase()}${elsewhere.slice(1)}, or have root take over what another user owns on the way (${found.map((f) => f.command).join(' && ')}); then check that nothing in ${first.above} was changed by someone else.`
          : `Take the others' write permission away from the folders above (${found.map((f) => f.command).join(' && ')}; a folder all must write to gets the sticky bit instead, chmod +t, as /tmp), or ${elsewhere}; then check that nothing in ${first.above} was changed by someone else.`
        : `Check that nothing in it was changed by someone else, then make it this user's alone: run ${found.map((f) => f.command).join(' && ')}${owner ? ' (chown as root), or set MAILCTL_HOME to a folder of your own' : ''}.`,
      command: found.map((f) => f.command).join(' && '),
      exitCode: ExitCode.config,
      details: { paths: found.map((f) => ({ path: f.path, problem: f.problem, mode: f.mode.toString(8).padStart(4, '0'), uid: f.uid })) },
    });
  }
}

/** Throws UntrustedPathError when any of `paths` could have been changed by another user. */
export function requireTrusted(paths: readonly PathToTrust[]): void {
  const found = untrustedPaths(paths);
  if (found.length > 0) throw new UntrustedPathError(found);
}

/** This process's user name, for a chown command; its uid when it has no passwd entry (a container's arbitrary uid). */
function thisUser(uid: number): string {
  try {
    return userInfo().username;
  } catch {
    return String(uid);
  }
}
