import type { DaemonLiveness } from '../../daemon/daemon-liveness.js';
import type { MarkWarning } from '../../store/sync-repo.js';

/** A queued or deferred message waiting longer than this is stuck (doctor's queue.deferred uses the same hour). */
export const stuckAfterMs = 60 * 60_000;

/** What the health of an installation is judged on: gathered by `status`. */
export interface HealthInput {
  emailEnabled: boolean;
  daemon: DaemonLiveness & { configError: string | null; configErrorAt: string | null };
  accounts: Array<{ table: string; enabled: boolean; lastError: string | null; failures: number; markWarning: MarkWarning | null; quarantined: number }>;
  queue: { counts: Record<string, number>; stuck: number; oldestStuck: string | null };
  quarantineDays: number;
}

export type HealthLevel = 'ok' | 'degraded' | 'down';

export interface Health {
  level: HealthLevel;
  /** Nagios plugin exit code: 0 OK, 1 WARNING, 2 CRITICAL. */
  code: 0 | 1 | 2;
  /** The one line `status --check` prints ("MAILCTL OK - …"), with performance data after '|'. */
  line: string;
  /** Each reason it is not OK, for people; empty when healthy. */
  problems: string[];
}

const words = { ok: 'OK', degraded: 'WARNING', down: 'CRITICAL' } as const;

/**
 * Healthy, degraded or down, as a monitoring plugin says it (Nagios plugin guidelines: exit 0 OK,
 * 1 WARNING, 2 CRITICAL, one line, performance data after '|'). Down: no daemon runs (never ran,
 * stopped, crashed, no heartbeat, no recent `daemon --once`). Degraded: the kill switch is on, the
 * daemon runs on the previous configuration, an enabled account fails, a message waits over an
 * hour, messages are in "sending" with no daemon running, quarantined mail was not replayed.
 */
export function assessHealth(v: HealthInput): Health {
  const problems: string[] = [];
  if (!v.daemon.running) problems.push(`daemon ${v.daemon.summary}`);
  if (!v.emailEnabled) problems.push('email_enabled is false: the kill switch is on, nothing is polled or sent');
  if (v.daemon.running && v.daemon.configError) problems.push(`running on the previous configuration: ${v.daemon.configError} (since ${v.daemon.configErrorAt})`);
  const failing = v.accounts.filter((a) => a.enabled && (a.lastError || a.markWarning?.kind === 'failed'));
  for (const a of failing) {
    problems.push(a.lastError ? `account ${a.table} failing (${a.failures} poll(s) in a row): ${a.lastError.slice(0, 120)}` : `account ${a.table}: marking mail done failed: ${a.markWarning!.kind === 'failed' ? a.markWarning!.detail.slice(0, 120) : ''}`);
  }
  if (v.queue.stuck > 0) problems.push(`${v.queue.stuck} message(s) waiting for over ${stuckAfterMs / 60_000} min (oldest since ${v.queue.oldestStuck})`);
  const sending = v.queue.counts.sending ?? 0;
  if (sending > 0 && v.daemon.state !== 'up') problems.push(`${sending} message(s) in "sending" with no daemon running`);
  const quarantined = v.accounts.reduce((sum, a) => sum + a.quarantined, 0);
  if (quarantined > 0) problems.push(`${quarantined} message(s) quarantined in the last ${v.quarantineDays} days, not replayed`);

  const level: HealthLevel = !v.daemon.running ? 'down' : problems.length > 0 ? 'degraded' : 'ok';
  const waiting = (v.queue.counts.queued ?? 0) + (v.queue.counts.deferred ?? 0);
  const enabled = v.accounts.filter((a) => a.enabled).length;
  const summary = level === 'ok'
    ? `daemon ${v.daemon.summary}; ${enabled} account(s) ok; ${waiting} message(s) waiting`
    : level === 'degraded' ? `daemon ${v.daemon.state === 'cron' ? v.daemon.summary : v.daemon.state}; ${problems.join('; ')}`
      : problems.join('; ');
  const perf = `waiting=${waiting} stuck=${v.queue.stuck} sending=${sending} failing_accounts=${failing.length} quarantined=${quarantined}`;
  return { level, code: level === 'ok' ? 0 : level === 'degraded' ? 1 : 2, line: `MAILCTL ${words[level]} - ${oneLine(summary)} | ${perf}`, problems };
}

/** Nagios reads the first line only: a server's multi-line error must not end it early. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replace(/\|/g, '/');
}
