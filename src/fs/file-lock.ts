import { randomBytes } from 'node:crypto';
import { closeSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { ExitCode, UserError } from '../errors.js';
import { processAlive } from '../process-alive.js';
import { diskWriteError } from './disk-write-error.js';
import { createExclusive } from './replace-file.js';

/** What a lock file holds: who took it, and a token so that only its taker removes it. */
export interface FileLockHolder {
  pid: number;
  host: string;
  since: string;
  token: string;
  /** The taker's boot (Linux's boot_id): a lock from before a reboot is stale whatever its pid. Absent elsewhere, and in locks of older versions. */
  boot?: string;
}

export interface FileLockOptions {
  /** What the lock guards, for the error ("the config file"). */
  what: string;
  /** How long to wait for a live holder, in ms (default 10,000). */
  waitMs?: number;
  /** The error code when the wait runs out (default E_LOCKED). */
  code?: string;
  exitCode?: number;
}

export interface FileLock {
  /** Removes the lock file if it is still this taker's. */
  release(): void;
}

/** One try at a lock: taken, or the live holder that has it ('unreadable': a taker is writing it this instant). */
export type FileLockAttempt = { lock: FileLock } | { holder: FileLockHolder | 'unreadable' };

/** Tokens of the locks this process holds now: a lock naming this pid with another token was left by an earlier process that had the same pid (before a reboot, a container restart). */
const heldHere = new Set<string>();

/** This boot's id, read once; undefined where the system has none. */
const thisBoot: string | undefined = (() => {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
})();

/** A lock file this old that is still empty or not JSON was left by a taker killed between creating and writing it (that takes microseconds). */
const unreadableStaleMs = 2000;

/**
 * Takes the lock file `path` (created with O_EXCL, so exactly one taker wins; holding
 * {pid, host, since, token}), waiting up to `waitMs` while another live process holds it.
 * A lock whose process is gone (same host, no such pid: kill -9, a crash; or taken before this
 * boot, or naming this very pid though this process never took it) is taken over; the
 * takeover itself runs under a second exclusive file (`path.break`), so two waiters that both
 * saw the dead holder cannot remove each other's fresh lock. A holder on another host is
 * waited for (its pid cannot be checked from here). Blocks the thread while it waits: the
 * critical sections it guards are a read-modify-write of a small file.
 * Throws UserError(options.code) naming the holder when the wait runs out, DiskWriteError on a
 * full or read-only disk.
 */
export function acquireFileLock(path: string, options: FileLockOptions): FileLock {
  const waitMs = options.waitMs ?? 10_000;
  const deadline = Date.now() + waitMs;
  let pause = 2;
  for (;;) {
    const attempt = tryFileLock(path, options);
    if ('lock' in attempt) return attempt.lock;
    const left = deadline - Date.now();
    if (left <= 0) throw lockedError(path, attempt.holder, waitMs, options);
    // Jittered, growing pauses: twenty waiters must not wake in step.
    sleep(Math.min(left, pause + Math.random() * pause));
    pause = Math.min(pause * 2, 40);
  }
}

/**
 * Takes the lock file `path` without waiting: the lock, or the live holder that has it. A stale
 * lock is taken over as in acquireFileLock (under `path.break`, so exactly one of several
 * processes that all saw it stale gets the lock). For locks held for long (a daemon, a rotation),
 * whose callers refuse with their own words rather than wait.
 * Throws DiskWriteError on a full or read-only disk.
 */
export function tryFileLock(path: string, options: Pick<FileLockOptions, 'what' | 'exitCode'>): FileLockAttempt {
  const mine: FileLockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString(), token: randomBytes(8).toString('hex'), ...(thisBoot ? { boot: thisBoot } : {}) };
  for (;;) {
    if (tryCreate(path, mine, options)) {
      heldHere.add(mine.token);
      return { lock: { release: () => releaseIfHeld(path, mine.token) } };
    }
    const seen = readLock(path);
    if (seen === 'gone') continue;
    if (!isStale(path, seen)) return { holder: seen };
    breakStale(path, seen);
  }
}

/** Creates the lock file holding `mine`; false when something has the name already. */
function tryCreate(path: string, mine: FileLockHolder, options: Pick<FileLockOptions, 'what' | 'exitCode'>): boolean {
  let fd: number;
  try {
    fd = createExclusive(path, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw diskWriteError(error, path, { what: `the lock of ${options.what}`, exitCode: options.exitCode }) ?? error;
  }
  try {
    writeSync(fd, JSON.stringify(mine));
  } catch (error) {
    // A lock file we could not fill (a full disk) must not stay: it would look like a taker half-way.
    closeSync(fd);
    unlinkSync(path);
    throw diskWriteError(error, path, { what: `the lock of ${options.what}`, exitCode: options.exitCode }) ?? error;
  }
  closeSync(fd);
  return true;
}

type Seen = FileLockHolder | 'unreadable' | 'gone';

function readLock(path: string): Seen {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw error;
  }
  try {
    // Older versions' daemon.lock held {pid, host, startedAt} and no token: still a holder, so a live one is respected.
    const held = JSON.parse(text) as Partial<FileLockHolder> & { startedAt?: string };
    if (typeof held.pid !== 'number') return 'unreadable';
    return { pid: held.pid, host: String(held.host ?? ''), since: String(held.since ?? held.startedAt ?? 'an unknown time'), token: String(held.token ?? ''), ...(typeof held.boot === 'string' ? { boot: held.boot } : {}) };
  } catch {
    return 'unreadable';
  }
}

function isStale(path: string, seen: FileLockHolder | 'unreadable'): boolean {
  if (seen === 'unreadable') return ageMs(path) > unreadableStaleMs;
  if (seen.host !== hostname()) return false; // its pid cannot be checked from here
  if (seen.boot !== undefined && thisBoot !== undefined && seen.boot !== thisBoot) return true;
  if (seen.pid === process.pid) return !heldHere.has(seen.token);
  return !processAlive(seen.pid);
}

/** Removes the stale lock `seen`, under `path.break`; does nothing when another waiter is doing it (or the lock changed). */
function breakStale(path: string, seen: FileLockHolder | 'unreadable'): void {
  const breaker = `${path}.break`;
  let fd: number;
  try {
    fd = createExclusive(breaker, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // A takeover takes microseconds: a breaker this old was left by a process killed during one.
    if (ageMs(breaker) > unreadableStaleMs) unlinkQuietly(breaker);
    else sleep(2);
    return;
  }
  try {
    const now = readLock(path);
    const same = now !== 'gone' && (now === 'unreadable' ? seen === 'unreadable' : seen !== 'unreadable' && now.token === seen.token);
    if (same && isStale(path, now)) unlinkQuietly(path);
  } finally {
    closeSync(fd);
    unlinkQuietly(breaker);
  }
}

function releaseIfHeld(path: string, token: string): void {
  heldHere.delete(token);
  const seen = readLock(path);
  if (seen !== 'gone' && seen !== 'unreadable' && seen.token === token) unlinkQuietly(path);
}

function lockedError(path: string, seen: FileLockHolder | 'unreadable', waitMs: number, options: FileLockOptions): UserError {
  const who = seen === 'unreadable' ? 'another process (the lock file is being written)' : `another mailctl (pid ${seen.pid} on ${seen.host}, since ${seen.since})`;
  const gone = seen === 'unreadable' ? '' : ` (pid ${seen.pid} is gone${seen.host === hostname() ? '' : ` on ${seen.host}`})`;
  return new UserError(options.code ?? 'E_LOCKED', `${capitalise(options.what)} is being changed by ${who}; waited ${Math.round(waitMs / 1000)} s for it. Nothing was changed.`, {
    fix: `Run the command again once the other one has finished. If no mailctl is running${gone}, remove ${path}.`,
    exitCode: options.exitCode ?? ExitCode.failure,
    details: { lock: path, ...(seen === 'unreadable' ? {} : { holderPid: seen.pid, holderHost: seen.host }) },
  });
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already removed by its taker or another waiter.
  }
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(1, Math.round(ms)));
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
