import { ExitCode, UserError } from '../errors.js';
import { tryFileLock, type FileLock } from '../fs/file-lock.js';

/**
 * One daemon per KB (the loop or a `daemon --once`): the lock file `path` beside the database,
 * taken without waiting. A lock left by a process that is gone (kill -9, a crash, a reboot) is
 * taken over by exactly one of the daemons starting together (src/fs/file-lock.ts's guarded
 * takeover); a live holder is named. Throws UserError E_DAEMON_RUNNING (exit 1) when another
 * daemon holds it, DiskWriteError (exit of the store) on a full or read-only disk.
 */
export function acquireDaemonLock(path: string): FileLock {
  const attempt = tryFileLock(path, { what: 'the daemon lock file', exitCode: ExitCode.store });
  if ('lock' in attempt) return attempt.lock;
  const holder = attempt.holder;
  const who = holder === 'unreadable' ? 'another daemon is taking the lock this instant' : `pid ${holder.pid} on ${holder.host}, since ${holder.since}`;
  throw new UserError('E_DAEMON_RUNNING', `Another mailctl daemon is running for this KB: ${who}.`, {
    fix: holder === 'unreadable'
      ? 'It is already doing the work.'
      : `It is already doing the work. To run a cycle by hand (--once), stop it first (kill ${holder.pid}): two at once could send a message twice. A lock left by a daemon that is gone is taken over by itself; do not remove ${path} while pid ${holder.pid} runs.`,
    exitCode: ExitCode.failure,
    details: { lock: path, ...(holder === 'unreadable' ? {} : { holderPid: holder.pid, holderHost: holder.host }) },
  });
}
