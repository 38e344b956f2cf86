import type { DaemonState } from '../store/daemon-state-repo.js';

/** A heartbeat older than this (or older than three polling intervals) means the daemon is down. */
const staleAfterMs = 2 * 60_000;

export type DaemonLiveness = 'up' | 'down' | 'never';

/** Up, down (stale heartbeat) or never ran: shared by `status` and `doctor` so they never disagree. */
export function daemonLiveness(beat: DaemonState | undefined, now: Date, inboundCheckFrequencyMs: number): DaemonLiveness {
  if (!beat) return 'never';
  return now.getTime() - Date.parse(beat.heartbeatAt) > Math.max(staleAfterMs, 3 * inboundCheckFrequencyMs) ? 'down' : 'up';
}
