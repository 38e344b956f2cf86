import type { Clock } from '../clock.js';
import type { GlobalValues } from '../config/globals.js';
import { formatDuration } from '../config/units.js';
import type { Logger } from '../logger.js';
import { AuditRepo } from '../store/audit-repo.js';
import type { Database } from '../store/database.js';
import { HousekeepingRepo } from '../store/housekeeping-repo.js';
import type { MessageStore } from '../store/message-store.js';
import { purgeContent, type PurgeResult } from '../store/purge-content.js';

/** The housekeeping task's name in the database. */
export const purgeTask = 'purge';
const dayMs = 86_400_000;
/** Wall time one cycle may spend purging: a first purge of years of mail carries on over several cycles, polling in between. */
const budgetMs = 20_000;
/** After a purge that failed, the next try: not every tick. */
const retryAfterMs = 60 * 60_000;

export interface RetentionPurgeDeps {
  db: Database;
  store: MessageStore;
  clock: Clock;
  log: Logger;
}

/** What a due purge did; `error` when it failed (it is tried again in an hour). */
export type RetentionPurgeOutcome = (PurgeResult & { retention: string }) | { retention: string; error: string };

/**
 * The daemon's daily retention purge: when `message_retention` is set and the last completed
 * purge is a day old (the housekeeping table, so a restart or `--once` from cron does not
 * purge again), the content of communications older than the retention is purged. Not due
 * costs one indexed read. A purge cut short by its time budget or a stop is not recorded as
 * done, so the next cycle carries on where it stopped.
 */
export class RetentionPurge {
  #retryAt = 0;

  constructor(private readonly deps: RetentionPurgeDeps) {}

  /** Runs the purge when it is due; undefined when it is not (or retention is "forever"). */
  async runIfDue(globals: GlobalValues, options: { stop?: () => boolean } = {}): Promise<RetentionPurgeOutcome | undefined> {
    const retention = globals.message_retention;
    if (retention === null) return undefined;
    const { db, store, clock, log } = this.deps;
    const now = clock.now();
    if (now.getTime() < this.#retryAt) return undefined;
    const housekeeping = new HousekeepingRepo(db);
    const label = formatDuration(retention);
    // Per retention value: a message_retention changed today is applied now, not tomorrow.
    const last = housekeeping.lastRun(`${purgeTask}:${label}`);
    // A last run "in the future" means the clock went back: run rather than wait for it.
    if (last && last.getTime() <= now.getTime() && now.getTime() - last.getTime() < dayMs) return undefined;
    const started = Date.now();
    try {
      const result = await purgeContent(db, store, {
        before: new Date(now.getTime() - retention), now, reason: `message_retention ${label}`,
        stop: () => Boolean(options.stop?.()) || Date.now() - started > budgetMs,
      });
      if (result.complete) {
        housekeeping.completed(purgeTask, now);
        housekeeping.completed(`${purgeTask}:${label}`, now);
      }
      if (result.communications > 0) {
        new AuditRepo(db, clock).record({ actor: 'daemon', action: 'comms.purge', target: `message_retention ${label}`, details: { ...result } });
      }
      log.info({ ...result, retention: label }, result.complete ? 'retention purge done' : 'retention purge paused (time budget or stopping); it carries on next cycle');
      return { ...result, retention: label };
    } catch (error) {
      this.#retryAt = now.getTime() + retryAfterMs;
      log.error({ error: (error as Error).message, retention: label }, 'retention purge failed; trying again in an hour');
      return { retention: label, error: (error as Error).message };
    }
  }
}
