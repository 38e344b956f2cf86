import { statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { MailctlPaths } from '../config/paths.js';
import { ExitCode, UserError } from '../errors.js';

/** A folder or file mailctl reads its settings, secrets or mail from. */
export interface PathToTrust {
  path: string;
  kind: 'folder' | 'file';
  /** What it holds, for people ("the configuration"). */
  holds: string;
}

/** A path another user could have changed: not ours (nor root's), or writable by group or others. */
export interface UntrustedPath extends PathToTrust {
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
    if (!list.some((p) => p.path === path)) list.push({ path, kind, holds });
  };
  const config = () => add(paths.configDir, 'folder', 'mailctl\'s configuration');
  const data = () => add(paths.dataDir, 'folder', 'mailctl\'s data');
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
 * (sshd_config(5)): owned by neither this user nor root, or writable by group or others.
 * Follows symbolic links (what counts is the file read). Missing paths are skipped: mailctl
 * creates them 0700 / 0600. Empty where there are no uids (Windows).
 */
export function untrustedPaths(paths: readonly PathToTrust[], uid: number | undefined = process.geteuid?.()): UntrustedPath[] {
  if (uid === undefined) return [];
  const found: UntrustedPath[] = [];
  for (const p of paths) {
    let info;
    try {
      info = statSync(p.path);
    } catch {
      continue; // missing (created safely later) or unreadable (the read itself will say so)
    }
    const mode = info.mode & 0o777;
    const shown = mode.toString(8).padStart(4, '0');
    if (info.uid !== uid && info.uid !== 0) {
      found.push({ ...p, problem: 'owner', mode, uid: info.uid, says: `owned by uid ${info.uid}, not by this user (uid ${uid})`, command: `chown ${thisUser(uid)} ${p.path}` });
    } else if ((mode & 0o022) !== 0) {
      const who = (mode & 0o022) === 0o022 ? 'group and others' : mode & 0o002 ? 'others' : 'its group';
      found.push({ ...p, problem: 'writable', mode, uid: info.uid, says: `writable by ${who} (mode ${shown})`, command: `chmod ${p.kind === 'folder' ? '700' : '600'} ${p.path}` });
    }
  }
  return found;
}

/** Another user could have changed a file mailctl would trust: refused, with the commands that fix it. */
export class UntrustedPathError extends UserError {
  constructor(readonly found: UntrustedPath[]) {
    const first = found[0]!;
    const more = found.length > 1 ? ` (also: ${found.slice(1).map((f) => `${f.path} is ${f.says}`).join('; ')})` : '';
    const owner = found.some((f) => f.problem === 'owner');
    super('E_UNSAFE_PERMISSIONS', `Refusing to use ${first.path}: it is ${first.says}, so another user could have changed ${first.holds}${more}. mailctl has not read it.`, {
      fix: `Check that nothing in it was changed by someone else, then make it this user's alone: run ${found.map((f) => f.command).join(' && ')}${owner ? ' (chown as root), or set MAILCTL_HOME to a folder of your own' : ''}.`,
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
