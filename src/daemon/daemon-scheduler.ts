import pLimit, { type LimitFunction } from 'p-limit';
import type { InboundAccount } from '../inbound/inbound-config.js';
import { ImapIdleWatcher } from '../inbound/imap-idle-watcher.js';
import { pacerFor, type OutboundPacer } from '../outbound/outbound-pacer.js';
import { SyncRepo } from '../store/sync-repo.js';
import { pollOneAccount, type AccountCycleResult, type InboundCycleContext } from './inbound-cycle.js';
import type { OutboundCycleResult } from './outbound-cycle.js';
import { RetentionPurge } from './retention-purge.js';
import { inboundContextFor, runOutboundFor, type CycleDeps, type CycleState } from './run-cycle.js';
import { Sleeper } from './sleeper.js';

export interface SchedulerDeps extends CycleDeps {
  /** How often the outbound queue and the retention purge look for due work without being woken (ms). */
  tickMs: number;
  /** Aborted when a stopping daemon's grace is over: every connection in use is dropped. */
  signal: AbortSignal;
  /** Reports each poll and each outbound cycle (tests, metrics). */
  onPoll?: (result: AccountCycleResult) => void;
  onOutbound?: (result: OutboundCycleResult) => void;
}

/** What changed when a new configuration was applied, in words for the log. */
export interface AppliedChanges {
  added: string[];
  changed: string[];
  removed: string[];
  outboundChanged: boolean;
  globalsChanged: boolean;
  secretsChanged: boolean;
}

/** The longest a worker sleeps before it looks again at what is due (a clock change, a missed wake). */
const maxSleepMs = 60_000;
/** The longest back-off of a failing account (inbound-cycle.ts). */
const maxBackoffMs = 15 * 60_000;
/** Polls forced by wakes (IDLE announcements, config changes) start at most this often per account. */
const minForcedGapMs = 1000;
/** Queued messages claimed by one outbound cycle. */
const outboundBatch = 100;

/**
 * The running daemon's work: one worker per enabled inbound account, each on its own schedule
 * and its own connection (at most max_mailbox_connections polling at once), one for the
 * outbound queue and one for the retention purge. A mailbox that hangs or has a long backlog
 * holds up no other mailbox and no sending. `apply` takes a new configuration while running:
 * accounts added are polled at once, changed ones are restarted (a poll in hand is dropped,
 * nothing half-committed) and polled at once, removed ones stop; the kill switch
 * (email_enabled) is looked at before every message taken or sent.
 */
export class DaemonScheduler {
  #state: CycleState;
  readonly #deps: SchedulerDeps;
  readonly #workers = new Map<string, AccountWorker>();
  readonly #limit: LimitFunction;
  readonly #outboundSleeper = new Sleeper();
  readonly #purgeSleeper = new Sleeper();
  #outboundGeneration = 0;
  /** The outbound server's pacing (connections allowed after throttling, messages per minute): it outlives a cycle, and is new for a new server. */
  #pacer: OutboundPacer | undefined;
  #stopping = false;
  readonly #running: Array<Promise<void>> = [];
  readonly #retired = new Set<Promise<void>>();

  constructor(deps: SchedulerDeps, state: CycleState) {
    this.#deps = deps;
    this.#state = state;
    this.#limit = pLimit(Math.max(1, state.globals.max_mailbox_connections));
  }

  get state(): CycleState {
    return this.#state;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /** Starts the workers (once). */
  start(): void {
    for (const account of this.#enabledAccounts(this.#state)) this.#startWorker(account, false);
    this.#running.push(this.#outboundLoop(), this.#purgeLoop());
  }

  /**
   * Runs on `next` from now on. Returns what changed. Accounts are compared by their whole
   * configuration; a change to the secrets (a new password, a rotated client secret, a reset
   * token) makes every account poll at once, so a wrong one shows within seconds.
   */
  apply(next: CycleState, options: { secretsChanged: boolean }): AppliedChanges {
    const before = this.#state;
    // What can fail comes first, before anything changes: a configuration is applied whole or not at all.
    const concurrency = next.globals.max_mailbox_connections;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`max_mailbox_connections is ${String(concurrency)}: not a whole number of at least 1`);
    this.#limit.concurrency = concurrency;
    this.#state = next;
    const wanted = new Map(this.#enabledAccounts(next).map((a) => [a.table, a]));
    const changes: AppliedChanges = { added: [], changed: [], removed: [], outboundChanged: false, globalsChanged: false, secretsChanged: options.secretsChanged };
    for (const [table, worker] of this.#workers) {
      const account = wanted.get(table);
      if (!account) {
        changes.removed.push(table);
        this.#retire(worker, 'its account was removed or disabled');
      } else if (JSON.stringify(account) !== JSON.stringify(worker.account)) {
        changes.changed.push(table);
        this.#retire(worker, 'its account was changed');
      }
    }
    for (const [table, account] of wanted) {
      if (this.#workers.has(table)) continue;
      if (!changes.changed.includes(table)) changes.added.push(table);
      this.#startWorker(account, true);
    }
    changes.globalsChanged = JSON.stringify(before.globals) !== JSON.stringify(next.globals);
    changes.outboundChanged = JSON.stringify(before.config.outbound ?? null) !== JSON.stringify(next.config.outbound ?? null) || before.keys.active.id !== next.keys.active.id;
    if (changes.outboundChanged) this.#outboundGeneration++;
    const started = new Set([...changes.added, ...changes.changed]);
    for (const worker of this.#workers.values()) {
      // A worker started just now polls at once anyway (its first poll may be running already: forcing
      // it again made a wrong password count two failures).
      const fresh = started.has(worker.account.table);
      if (options.secretsChanged && !fresh) worker.forced = true;
      this.#syncIdle(worker, options.secretsChanged && !fresh);
      // A new frequency or the kill switch turned off again: each worker looks at its due time anew.
      worker.sleeper.wake();
    }
    this.#outboundSleeper.wake();
    return changes;
  }

  /** Something was queued (`mailctl send`, a reply): the queue is looked at now, not at the next tick. */
  wakeOutbound(): void {
    this.#outboundSleeper.wake();
  }

  /** New mail announced for `table` (IMAP IDLE): it is polled now. */
  wakeAccount(table: string): void {
    const worker = this.#workers.get(table);
    if (!worker) return;
    worker.forced = true;
    worker.sleeper.wake();
  }

  /** No new message or account is taken from now on; `finished` resolves when the work in hand is done. */
  requestStop(): void {
    this.#stopping = true;
    for (const worker of this.#workers.values()) {
      this.#syncIdle(worker);
      worker.sleeper.wake();
    }
    this.#outboundSleeper.wake();
    this.#purgeSleeper.wake();
  }

  /** Resolves when every worker has ended (after requestStop). */
  async finished(): Promise<void> {
    for (;;) {
      const all = [...this.#running, ...this.#retired];
      await Promise.all(all);
      if (this.#running.length + this.#retired.size === all.length) return;
    }
  }

  #enabledAccounts(state: CycleState): InboundAccount[] {
    return Object.values(state.config.inbound ?? {}).filter((a) => a.enabled);
  }

  #startWorker(account: InboundAccount, forced: boolean): void {
    const worker = new AccountWorker(account, forced);
    this.#workers.set(account.table, worker);
    worker.running = this.#accountLoop(worker);
    this.#running.push(worker.running);
    this.#syncIdle(worker);
  }

  /**
   * An IMAP account's IDLE connection (RFC 2177), while imap_idle is on and the kill switch off:
   * new mail announced wakes its worker, so it is taken within about a second; the periodic
   * poll and the sweep stay as the safety net. With `restart`, one already open is replaced
   * (a new password or token must be used).
   */
  #syncIdle(worker: AccountWorker, restart = false): void {
    const { globals } = this.#state;
    const wanted = !this.#stopping && !worker.retired && worker.account.protocol === 'imap' && globals.imap_idle && globals.email_enabled;
    if (worker.idle && (!wanted || restart)) {
      const closing = worker.idle.stop().catch(() => undefined);
      worker.idle = undefined;
      const ended = closing.finally(() => this.#retired.delete(ended));
      this.#retired.add(ended);
    }
    if (wanted && !worker.idle) {
      const d = this.#deps;
      worker.idle = new ImapIdleWatcher(worker.account, {
        secrets: d.secrets, timeoutMs: d.timeoutMs, clock: d.clock, log: d.log,
        // This worker's, not "the worker of this table": a retired watcher's last call must not
        // force a poll of the account that replaced it (a wrong password then counted twice).
        onNewMail: () => {
          if (worker.retired || this.#stopping) return;
          worker.forced = true;
          worker.sleeper.wake();
        },
      });
      worker.idle.start();
    }
  }

  /** Each IMAP account's IDLE connection, for status and metrics. */
  idleStates(): Record<string, ReturnType<ImapIdleWatcher['status']>> {
    return Object.fromEntries([...this.#workers.values()].filter((w) => w.idle).map((w) => [w.account.table, w.idle!.status()]));
  }

  #retire(worker: AccountWorker, why: string): void {
    this.#workers.delete(worker.account.table);
    worker.retired = true;
    this.#syncIdle(worker);
    worker.abort.abort(new Error(why));
    worker.sleeper.wake();
    const index = this.#running.indexOf(worker.running);
    if (index >= 0) this.#running.splice(index, 1);
    const ended = worker.running.finally(() => this.#retired.delete(ended));
    this.#retired.add(ended);
  }

  /**
   * Milliseconds until `account` is due: its back-off after a failure, else its last poll plus
   * the current frequency. Never more than the longest wait the schedule can ask for (the
   * frequency, or the 15-minute back-off): a clock stepped back, or a poll recorded by a machine
   * whose clock ran fast, would otherwise stop the account's polls until the clock caught up.
   */
  #msUntilDue(table: string): number {
    const s = new SyncRepo(this.#deps.db).get(table);
    const now = this.#deps.clock.now().getTime();
    if (!s.lastPollAt) return 0;
    const last = Date.parse(s.lastPollAt);
    // Stopped at the poll's cap: due again at once (recorded as next = last); a last poll "in the future": the clock went back.
    if (s.nextPollAt === s.lastPollAt || last > now) return 0;
    const frequency = this.#state.globals.inbound_check_frequency;
    const due = s.failures > 0 && s.nextPollAt ? Date.parse(s.nextPollAt) : last + frequency;
    return Math.min(due - now, Math.max(frequency, maxBackoffMs));
  }

  async #accountLoop(worker: AccountWorker): Promise<void> {
    const table = worker.account.table;
    const halted = () => this.#stopping || worker.retired;
    while (!halted()) {
      try {
        if (!this.#state.globals.email_enabled) {
          await worker.sleeper.sleep(maxSleepMs); // woken when the configuration changes
          continue;
        }
        const wait = worker.forced ? 0 : this.#msUntilDue(table);
        if (wait > 0) {
          await worker.sleeper.sleep(Math.min(wait, maxSleepMs));
          continue;
        }
        if (worker.forced) {
          // A server announcing new mail hundreds of times a second gets one poll a second, not a storm.
          const gap = worker.lastPollStart + minForcedGapMs - Date.now();
          if (gap > 0) {
            await new Promise((resolve) => setTimeout(resolve, gap));
            if (halted()) break;
          }
        }
        worker.forced = false;
        worker.lastPollStart = Date.now();
        const result = await this.#limit(async () => (halted() ? null : pollOneAccount(this.#inboundContext(worker), worker.account, { force: true })));
        if (result) this.#deps.onPoll?.(result);
      } catch (error) {
        // pollOneAccount records its own failures; what reaches here is the database itself failing.
        this.#deps.log.error({ account: table, error: (error as Error).message }, `the worker for ${table} failed; it tries again in a minute`);
        await worker.sleeper.sleep(maxSleepMs);
      }
    }
  }

  #inboundContext(worker: AccountWorker): InboundCycleContext {
    return inboundContextFor(this.#deps, this.#state, [worker.account], {
      // The kill switch, read anew before every message: `config set email_enabled false` stops the poll in hand.
      stop: () => this.#stopping || worker.retired || !this.#state.globals.email_enabled,
      signal: AbortSignal.any([this.#deps.signal, worker.abort.signal]),
    });
  }

  async #outboundLoop(): Promise<void> {
    while (!this.#stopping) {
      const { config, globals } = this.#state;
      if (globals.email_enabled && config.outbound?.host) {
        const generation = this.#outboundGeneration;
        try {
          const d = this.#deps;
          this.#pacer = pacerFor(config.outbound, this.#pacer);
          const outcome = await runOutboundFor(d, this.#state, {
            // Before every message: the kill switch, and the server it was set up for is still the one configured.
            stop: () => this.#stopping || !this.#state.globals.email_enabled || generation !== this.#outboundGeneration,
            signal: d.signal,
            batch: outboundBatch,
            pacer: this.#pacer,
          });
          if (outcome.claimed > 0) d.log.info({ ...outcome }, 'outbound cycle');
          d.onOutbound?.(outcome);
          // A whole batch was due: more may be, straight on (unless the kill switch or a stop came meanwhile).
          if (outcome.claimed >= outboundBatch && !this.#stopping && this.#state.globals.email_enabled) continue;
        } catch (error) {
          this.#deps.log.error({ error: (error as Error).message }, 'the outbound cycle failed; it is tried again at the next tick');
        }
      }
      await this.#outboundSleeper.sleep(this.#deps.tickMs);
    }
  }

  async #purgeLoop(): Promise<void> {
    const d = this.#deps;
    const purger = new RetentionPurge({ db: d.db, store: d.store, clock: d.clock, log: d.log });
    const sleeper = this.#purgeSleeper;
    while (!this.#stopping) {
      try {
        // Retention is not mail: it runs with the kill switch on too. Not due, it costs one read.
        await purger.runIfDue(this.#state.globals, { stop: () => this.#stopping });
      } catch (error) {
        d.log.error({ error: (error as Error).message }, 'the retention purge failed; it is tried again later');
      }
      await sleeper.sleep(Math.max(d.tickMs, 1000));
    }
  }
}

/** One inbound account's worker: its schedule, its connection's abort, its wake-up. */
class AccountWorker {
  readonly abort = new AbortController();
  readonly sleeper = new Sleeper();
  running: Promise<void> = Promise.resolve();
  retired = false;
  idle: ImapIdleWatcher | undefined;
  /** When its last poll started (ms since the epoch; 0 before the first). */
  lastPollStart = 0;
  constructor(readonly account: InboundAccount, public forced: boolean) {}
}
