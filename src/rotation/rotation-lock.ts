import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, UserError } from '../errors.js';
import { tryFileLock, type FileLock, type FileLockAttempt } from '../fs/file-lock.js';

/** rotate-secret.lock, beside the database: held by a rotation for its whole run (plan, replacements, verification, commit or roll-back). */
export function rotationLockPath(dataDir: string): string {
  return join(dataDir, 'rotate-secret.lock');
}

/**
 * One try at the rotation lock, without waiting (src/fs/file-lock.ts: a holder that is gone —
 * kill -9, a crash, a reboot — is taken over by exactly one process). Recovery takes it before
 * touching a journal, so it never rolls back a rotation whose process is still running.
 */
export function tryRotationLock(dataDir: string): FileLockAttempt {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  return tryFileLock(rotationLockPath(dataDir), { what: 'the rotate-secret lock', exitCode: ExitCode.secrets });
}

/**
 * The rotation lock for a rotate-secret run. A second rotation is refused at once rather than
 * queued: the first may be waiting at a prompt, and the second's plan would be read from values
 * the first is changing. Throws UserError E_ROTATION_RUNNING (exit 1) naming the holder.
 */
export function acquireRotationLock(dataDir: string): FileLock {
  const attempt = tryRotationLock(dataDir);
  if ('lock' in attempt) return attempt.lock;
  const holder = attempt.holder;
  const path = rotationLockPath(dataDir);
  const who = holder === 'unreadable' ? 'it started this instant' : `pid ${holder.pid} on ${holder.host}, since ${holder.since}`;
  throw new UserError('E_ROTATION_RUNNING', `Another rotate-secret is running for this KB (${who}). Nothing was changed.`, {
    fix: `Let it finish, then check with \`mailctl rotate-secret --dry-run\` and run this one again if it is still needed.${holder === 'unreadable' ? '' : ` If no mailctl is running, remove ${path}.`}`,
    exitCode: ExitCode.failure,
    details: { lock: path, ...(holder === 'unreadable' ? {} : { holderPid: holder.pid, holderHost: holder.host }) },
  });
}
