import type { Clock } from '../clock.js';
import type { GlobalValues } from '../config/globals.js';
import { formatDuration } from '../config/units.js';
import type { InboundAccount } from '../inbound/inbound-config.js';
import type { Database } from '../store/database.js';
import { QueueRepo } from '../store/queue-repo.js';
import { SyncRepo } from '../store/sync-repo.js';

/** What the daemon runs on now (its configuration as last loaded): what health and metrics judge. */
export interface DaemonView {
  accounts: ReadonlyArray<Pick<InboundAccount, 'table' | 'protocol' | 'enabled'>>;
  globals: Pick<GlobalValues, 'inbound_check_frequency' | 'email_enabled'>;
}

/** The daemon's health: healthy, or each reason it is not (one line each, for people). */
export interface DaemonHealth {
  healthy: boolean;
  problems: string[];
  /** Facts said alongside a healthy answer ("the kill switch is on"). */
  notes: string[];
}

/** An account is failing when its last successful poll is older than max(this, 3 × its check frequency). */
export const minSuccessWindowMs = 2 * 60_000;
/** A message claimed for sending longer than this is stuck. */
export const stuckSendingMs = 5 * 60_000;
/** A due message (queued, deferred) still waiting this long after its time is stuck. */
export const overdueMs = 10 * 60_000;

/** How long an account may go without a successful poll before it counts as failing (ms). */
export function successWindowMs(checkFrequencyMs: number): number {
  return Math.max(minSuccessWindowMs, 3 * checkFrequencyMs);
}

/**
 * Judges the daemon from the database (so it holds after a restart): every enabled account
 * polled successfully within successWindowMs, no message "sending" for more than
 * stuckSendingMs, no due message waiting more than overdueMs. With the kill switch on nothing
 * is expected to be polled or sent, so neither is judged (a note says so). An account never
 * polled successfully is failing, even in a daemon that has just started (not ready yet).
 */
export function checkDaemonHealth(deps: { db: Database; clock: Clock }, view: DaemonView): DaemonHealth {
  const now = deps.clock.now();
  const problems: string[] = [];
  const notes: string[] = [];
  if (!view.globals.email_enabled) {
    notes.push('email_enabled is false: the kill switch is on, nothing is polled or sent');
    return { healthy: true, problems, notes };
  }
  const sync = new SyncRepo(deps.db);
  const window = successWindowMs(view.globals.inbound_check_frequency);
  for (const account of view.accounts) {
    if (!account.enabled) continue;
    const state = sync.get(account.table);
    const lastOk = state.lastOkAt ? Date.parse(state.lastOkAt) : null;
    const error = state.lastError ? `; last error: ${state.lastError}` : '';
    if (lastOk === null) {
      problems.push(`${account.table}: ${state.lastPollAt ? 'no successful poll yet' : 'not polled yet'}${error}`);
    } else if (now.getTime() - lastOk > window) {
      problems.push(`${account.table}: no successful poll for ${roughly(now.getTime() - lastOk)} (limit ${formatDuration(window)}), last at ${state.lastOkAt}${error}`);
    }
  }
  const stuck = new QueueRepo(deps.db, deps.clock).stuck(new Date(now.getTime() - stuckSendingMs), new Date(now.getTime() - overdueMs));
  if (stuck.sending.count > 0) problems.push(`outbound: ${stuck.sending.count} message(s) being sent for more than ${formatDuration(stuckSendingMs)} (since ${stuck.sending.oldest})`);
  if (stuck.overdue.count > 0) problems.push(`outbound: ${stuck.overdue.count} due message(s) waiting more than ${formatDuration(overdueMs)} (the oldest due at ${stuck.overdue.oldest})`);
  return { healthy: problems.length === 0, problems, notes };
}

/** "3m 10s", "2h 5m", "45s": for people, not exact. */
function roughly(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}
