import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { processAlive } from '../process-alive.js';
import { ExitCode, UserError } from '../errors.js';
import { diskWriteError } from '../fs/disk-write-error.js';

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
}


/**
 * One daemon per KB: an exclusive lock file beside the database. A lock left by a
 * process that is gone (kill -9, a reboot) is taken over; a live holder is named.
 */
export function acquireDaemonLock(path: string, now: Date): { release(): void } {
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      const holder: LockHolder = { pid: process.pid, host: hostname(), startedAt: now.toISOString() };
      try {
        writeSync(fd, JSON.stringify(holder));
      } catch (error) {
        // A full disk: no half-written lock file left behind.
        closeSync(fd);
        rmSync(path, { force: true });
        throw error;
      }
      closeSync(fd);
      return { release: () => { if (readHolder(path)?.pid === process.pid) rmSync(path, { force: true }); } };
    } catch (error) {
      const disk = diskWriteError(error, path, { what: 'the daemon lock file', exitCode: ExitCode.store });
      if (disk) throw disk;
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readHolder(path);
      if (holder && holder.host === hostname() && processAlive(holder.pid)) {
        throw new UserError('E_DAEMON_RUNNING', `Another mailctl daemon is running for this KB: pid ${holder.pid} on ${holder.host}, since ${holder.startedAt}.`, {
          fix: `It is already doing the work. To run a cycle by hand (--once), stop it first (kill ${holder.pid}): two at once could send a message twice.`,
          exitCode: ExitCode.failure,
        });
      }
      rmSync(path, { force: true }); // stale: its process is gone
    }
  }
  throw new UserError('E_DAEMON_LOCK', `Could not take the daemon lock ${path}.`, { exitCode: ExitCode.failure });
}

export function readHolder(path: string): LockHolder | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
  } catch {
    return undefined;
  }
}
