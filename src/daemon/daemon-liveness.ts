import type { DaemonState } from '../store/daemon-state-repo.js';
import type { ProcessProbe } from './process-identity.js';

/** A heartbeat (or a `daemon --once` run) older than this, or than three polling intervals, is not recent. */
const staleAfterMs = 2 * 60_000;

/**
 * - up: a daemon runs now (the loop beating, or a `daemon --once` in progress);
 * - cron: no daemon runs now, but `daemon --once` ran recently (a cron setup between runs);
 * - stopped: the loop was stopped cleanly (or ended by an error, which it recorded);
 * - crashed: on this host, the recorded process is gone without recording a stop (kill -9, OOM);
 * - down: no heartbeat (or --once run) recently, and nothing better is known (another host, a hung process);
 * - never: no daemon ever ran for this KB.
 */
export type DaemonLivenessState = 'up' | 'cron' | 'stopped' | 'crashed' | 'down' | 'never';

export interface DaemonLiveness {
  state: DaemonLivenessState;
  /** up and cron: mail moves. The rest: `status --check` says down (exit 2). */
  running: boolean;
  /** One phrase for people, the same in `status`, `status --check` and doctor ("stopped at …"). */
  summary: string;
}

/** How old a heartbeat or a --once run may be and still count as recent, in ms. */
export function recentWindowMs(inboundCheckFrequencyMs: number): number {
  return Math.max(staleAfterMs, 3 * inboundCheckFrequencyMs);
}

/**
 * What the recorded daemon state means now. On the host that recorded it, the process is looked
 * at (`probe`): gone without a recorded stop is "crashed" at once, whatever the heartbeat says;
 * on another host only the heartbeat can tell. Shared by `status` and doctor so they never disagree.
 */
export function daemonLiveness(beat: DaemonState | undefined, now: Date, inboundCheckFrequencyMs: number, probe: ProcessProbe): DaemonLiveness {
  if (!beat) return { state: 'never', running: false, summary: 'never ran for this KB' };
  const window = recentWindowMs(inboundCheckFrequencyMs);
  // A time ahead of now by more than the window is not recent either: a row from a host whose clock
  // runs a year fast must not say "up" for a year (nor make commands wait for that daemon).
  const recent = (at: string) => Math.abs(now.getTime() - Date.parse(at)) <= window;
  const future = (at: string) => Date.parse(at) - now.getTime() > window;
  const where = `pid ${beat.pid} on ${beat.host}`;
  const local = beat.host === probe.host;
  const error = beat.result === 'error' && beat.resultDetail ? ` after an error: ${beat.resultDetail}` : '';
  if (beat.mode === 'once') {
    if (beat.stoppedAt) {
      const ran = `last run by \`daemon --once\` at ${beat.stoppedAt} (${beat.result ?? 'ok'}${beat.resultDetail ? `: ${beat.resultDetail}` : ''})`;
      return recent(beat.stoppedAt)
        ? { state: 'cron', running: true, summary: ran }
        : { state: 'down', running: false, summary: `no recent run: ${ran}, none in the last ${Math.round(window / 1000)} s` };
    }
    if (local && !probe.isDaemon(beat.pid, beat.processStart)) return { state: 'crashed', running: false, summary: `stopped (crashed): \`daemon --once\` started ${beat.startedAt} (${where}) is gone without finishing` };
    if (local || recent(beat.startedAt)) return { state: 'up', running: true, summary: `running \`daemon --once\` since ${beat.startedAt} (${where})` };
    return { state: 'down', running: false, summary: `down, no \`daemon --once\` run finished since ${beat.startedAt} (${where})` };
  }
  if (beat.stoppedAt) return { state: 'stopped', running: false, summary: `stopped at ${beat.stoppedAt}${error} (${where}, up since ${beat.startedAt})` };
  if (local && !probe.isDaemon(beat.pid, beat.processStart)) return { state: 'crashed', running: false, summary: `stopped (crashed): ${where} is gone; last heartbeat ${beat.heartbeatAt}` };
  if (future(beat.heartbeatAt)) return { state: 'down', running: false, summary: `down: its last heartbeat, ${beat.heartbeatAt}, is in the future (${where}): the clocks of this host and ${beat.host} disagree` };
  if (!recent(beat.heartbeatAt)) return { state: 'down', running: false, summary: `down, no heartbeat since ${beat.heartbeatAt} (${where}${local ? ', which still runs but does not beat' : ''})` };
  return { state: 'up', running: true, summary: `up since ${beat.startedAt} (${where}, heartbeat ${beat.heartbeatAt})` };
}
