import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../process-alive.js';

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Fields 3 (state) and 22 (start time, clock ticks since boot) of /proc/PID/stat (proc(5)); undefined where there is none. */
function readStat(pid: number): { state: string; ticks: string } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces or parentheses: read after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = fields[19]; // field 22; fields[0] is field 3
  return fields[0] && ticks && /^\d+$/.test(ticks) ? { state: fields[0], ticks } : undefined;
}

/**
 * A process's identity beyond its pid: "<boot id>:<start time>", the start time in clock ticks
 * since boot (field 22 of /proc/PID/stat, proc(5)). A pid reused by another process, or the same
 * pid after a reboot, gives another identity. Undefined where /proc is not (not Linux) or the
 * process is gone.
 */
export function processStart(pid: number): string | undefined {
  const boot = bootId();
  const stat = boot ? readStat(pid) : undefined;
  return stat ? `${boot}:${stat.ticks}` : undefined;
}

/** What a status reader can tell of a recorded daemon process from where it runs. */
export interface ProcessProbe {
  /** This host's name, as the daemon records it (os.hostname()). */
  host: string;
  /** Whether `pid` on this host is still the daemon that recorded `recordedStart` (its process identity, null if unknown). */
  isDaemon(pid: number, recordedStart: string | null): boolean;
}

/**
 * The probe of this host: the pid is alive, and is still the daemon — its identity matches the
 * one it recorded (Linux), or, where identities are unknown, the daemon lock in `dataDir` still
 * names it (a lock a crashed daemon left names it too: then the heartbeat decides, see
 * daemonLiveness).
 */
export function localProcessProbe(dataDir: string): ProcessProbe {
  return {
    host: hostname(),
    isDaemon(pid, recordedStart) {
      if (!processAlive(pid)) return false;
      // A zombie (killed, not yet reaped by its parent) answers kill(pid, 0) but is gone.
      const state = readStat(pid)?.state;
      if (state === 'Z' || state === 'X') return false;
      const now = processStart(pid);
      if (recordedStart && now) return now === recordedStart;
      return lockNames(join(dataDir, 'daemon.lock'), pid);
    },
  };
}

function lockNames(path: string, pid: number): boolean {
  try {
    const held = JSON.parse(readFileSync(path, 'utf8')) as { pid?: unknown; host?: unknown };
    return held.pid === pid && held.host === hostname();
  } catch {
    return false;
  }
}
