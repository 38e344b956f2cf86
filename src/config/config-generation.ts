import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { replaceFile } from '../fs/replace-file.js';
import { ExitCode } from '../errors.js';
import type { MailctlPaths } from './paths.js';

/**
 * The file a secret write touches (rotate-secret, reset-oauth, configure with a password):
 * secrets may live in a keyring, where a running daemon cannot see a change, so every write
 * through mailctl leaves a new random mark here, beside config.json.
 */
export function secretsMarkPath(paths: MailctlPaths): string {
  return join(paths.configDir, 'secrets.generation');
}

export function configFilePath(paths: MailctlPaths): string {
  return join(paths.configDir, 'config.json');
}

let marksMuted = false;

/**
 * The daemon's own secret writes (the OAuth token cache it refreshes) leave no mark: they
 * are not an admin's change, and a mark would make it re-poll every account after each refresh.
 */
export function muteSecretsMarks(): void {
  marksMuted = true;
}

/** Leaves a new mark after a secret was written or deleted (see secretsMarkPath). A failure to write it is the caller's to report. */
export function markSecretsChanged(paths: MailctlPaths): void {
  if (marksMuted) return;
  replaceFile(secretsMarkPath(paths), randomBytes(12).toString('hex') + '\n', { mode: 0o600, what: 'the secrets change mark', exitCode: ExitCode.config });
}

function readOrEmpty(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw error;
  }
}

/**
 * Names what a daemon would run on now: a short hash of config.json's bytes and the secrets
 * mark. A command compares it with the generation the running daemon recorded to say whether
 * the daemon has picked its change up. Throws what reading the files throws (not ENOENT).
 */
export function configGeneration(paths: MailctlPaths): string {
  return createHash('sha256').update(readOrEmpty(configFilePath(paths))).update('\0').update(readOrEmpty(secretsMarkPath(paths))).digest('hex').slice(0, 16);
}

/**
 * A cheap fingerprint of the two files (size, mtime and ctime in ns, inode, mode, owner): the
 * daemon looks at it a few times a second and reads the files only when it changes. ctime, mode
 * and owner: a chmod 666 changes no content, but the file can no longer be trusted (the read
 * that follows refuses it, and the daemon keeps its previous configuration).
 */
export function configFingerprint(paths: MailctlPaths): string {
  return [configFilePath(paths), secretsMarkPath(paths)].map((path) => {
    try {
      const s = statSync(path, { bigint: true });
      return `${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.ino}:${s.mode}:${s.uid}`;
    } catch {
      return '-';
    }
  }).join('|');
}
