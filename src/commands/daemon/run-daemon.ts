import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Deps } from '../../deps.js';
import { acquireDaemonLock } from '../../daemon/daemon-lock.js';
import { createDaemonLogger } from '../../daemon/daemon-logger.js';
import { DaemonStateRepo } from '../../store/daemon-state-repo.js';
import { ExitCode, UsageError } from '../../errors.js';
import { resolveGlobals } from '../../config/globals.js';
import { parseDuration } from '../../config/units.js';
import { loadKbKeys } from '../../kb/load-kb.js';
import type { AccountCycleResult } from '../../daemon/inbound-cycle.js';
import { runDaemonCycle } from '../../daemon/run-cycle.js';
import { interruptedReason } from '../../daemon/outbound-cycle.js';
import { pacerFor, type OutboundPacer } from '../../outbound/outbound-pacer.js';
import type { Logger } from '../../logger.js';
import { QueueRepo } from '../../store/queue-repo.js';
import type { Database } from '../../store/database.js';
import type { MessageStore } from '../../store/message-store.js';
import { collectGarbage } from '../../store/store-gc.js';
import { RetentionPurge, type RetentionPurgeOutcome } from '../../daemon/retention-purge.js';
import { purgeSummary } from '../comms/purge-summary.js';
import { silentLogger } from '../../logger.js';
import { defaultPollLimits, describe } from '../../inbound/poll-account.js';

export interface DaemonOptions {
  once?: boolean;
  sweep?: boolean;
  timeout: string;
  tick: string;
  logFile?: string;
}

/**
 * `mailctl daemon --once`: one cycle of inbound polling and outbound sending, then the
 * retention purge when it is due, then exit (cron and tests).
 */
export async function runDaemon(deps: Deps, options: DaemonOptions): Promise<number> {
  const { out } = deps;
  if (!options.once) return runDaemonLoop(deps, options);
  const timeoutMs = parseDuration(options.timeout);
  if (timeoutMs === undefined || timeoutMs < 1000) throw new UsageError('E_TIMEOUT', `--timeout "${options.timeout}" is not a duration of at least 1s.`);
  const config = (await deps.config()).read();
  const globals = resolveGlobals(config.globals ?? {});
  const db = await deps.db();
  const messages = await deps.messageStore();
  // The same lock as the loop: beside a running daemon, --once would release its claims
  // on the messages in hand and send them a second time.
  const lock = acquireDaemonLock(join(deps.paths.dataDir, 'daemon.lock'));
  try {
    await removeOrphans(deps, db, messages, (message) => out.warn(message));
    let result: { code: number; data: Record<string, unknown> };
    if (!globals.email_enabled) {
      out.warn('email_enabled is false: the kill switch is on, nothing is polled or sent.');
      result = { code: ExitCode.ok, data: { ok: true, killSwitch: true, accounts: [] } };
    } else {
      const { store } = await deps.secrets();
      const keys = await loadKbKeys(config, store);
      result = await runOnce(deps, options, { config, globals, keys, db, store, messages, timeoutMs });
    }
    // Retention is not mail: it runs with the kill switch on too.
    const purge = await new RetentionPurge({ db, store: messages, clock: deps.clock, log: silentLogger }).runIfDue(globals);
    if (purge) showPurge(deps, purge);
    out.data({ ...result.data, ...(purge ? { purge } : {}) });
    return result.code;
  } finally {
    lock.release();
  }
}

async function runOnce(deps: Deps, options: DaemonOptions, ctx: { config: import('../../config/config-schema.js').MailctlConfig; globals: ReturnType<typeof resolveGlobals>; keys: Awaited<ReturnType<typeof loadKbKeys>>; db: Awaited<ReturnType<Deps['db']>>; store: import('../../secrets/secret-store.js').SecretStore; messages: MessageStore; timeoutMs: number }): Promise<{ code: number; data: Record<string, unknown> }> {
  const { out } = deps;
  const { config, globals, keys, db, store, messages, timeoutMs } = ctx;
  const log: Logger = {
    info: () => undefined,
    warn: (facts, message) => out.warn(`${message} ${JSON.stringify(facts)}`),
    error: () => undefined,
  };
  if (config.outbound?.host) {
    const stale = new QueueRepo(db, deps.clock).releaseStaleClaims();
    if (stale > 0) out.warn(`${stale} message(s) were being sent when a daemon stopped; they will be tried again.`);
  }
  const { inbound: results, outbound } = await runDaemonCycle({ db, store: messages, clock: deps.clock, secrets: store, log, timeoutMs }, { config, keys, globals }, { force: true, forceSweep: Boolean(options.sweep) });
  showResults(deps, results);
  if (outbound && outbound.claimed > 0) {
    out.success(`outbound: ${outbound.claimed} due, ${outbound.sent} sent, ${outbound.deferred} deferred, ${outbound.failed} failed, ${outbound.abandoned} abandoned, ${outbound.held} held`);
  } else if (outbound) {
    out.line('- outbound: nothing due');
  }
  // A refused move or delete fails the run too (cron sees it), though the mail was taken; so does
  // a message that could not be taken this time (one quarantined is dealt with: shown, not failed).
  const ok = results.every((r) => r.status !== 'failed' && !(r.status === 'ok' && (r.poll.marks.failed > 0 || r.poll.failed.length > 0)));
  return { code: ok ? ExitCode.ok : ExitCode.failure, data: { ok, accounts: results, outbound } };
}

function showPurge(deps: Deps, purge: RetentionPurgeOutcome): void {
  if ('error' in purge) {
    deps.out.warn(`retention purge (message_retention ${purge.retention}) failed: ${purge.error}`);
    return;
  }
  deps.out.success(`retention purge (message_retention ${purge.retention}): ${purgeSummary(purge)}${purge.complete ? '' : '; not finished, the next run carries on'}`);
}

function showResults(deps: Deps, results: AccountCycleResult[]): void {
  const { out } = deps;
  if (results.length === 0) out.line('No inbound accounts.');
  for (const r of results) {
    if (r.status === 'ok') {
      const d = Object.entries(r.poll.dispositions).map(([k, v]) => `${v} ${k}`).join(', ');
      const line = `${r.table}: ${r.poll.listed} listed${r.swept ? ' (full sweep)' : ''}, ${r.poll.processed} processed${d ? ` (${d})` : ''}, ${r.poll.alreadyTaken} already taken`;
      const marks = r.poll.marks;
      const capped = r.poll.capped ? `; stopped at the poll's cap (${r.poll.capped}): ${r.poll.left} left for the next poll` : '';
      if (marks.failed > 0) out.error(`${line}${capped}; marking ${marks.failed} message(s) done FAILED (they are stored, and marked again next poll): ${marks.warning}`);
      else if (r.poll.failed.length > 0) out.error(`${line}${capped}; ${r.poll.failed.length} message(s) could not be taken (tried again next poll)`);
      else if (r.poll.quarantined.length > 0) out.warn(`${line}${capped}; ${r.poll.quarantined.length} message(s) given up on and quarantined`);
      else if (marks.leftFlagged > 0) out.warn(`${line}${capped}; ${marks.leftFlagged} message(s) left in the folder: ${marks.warning}`);
      else out.success(`${line}${capped}`);
      for (const f of r.poll.failed) out.error(`  ${describe(f.key, f)}: attempt ${f.attempts} of ${defaultPollLimits.maxAttempts} failed: ${f.error}`);
      for (const q of r.poll.quarantined) out.warn(`  ${describe(q.key, q)}: quarantined as communication ${q.communicationId} after ${q.attempts} failed attempts (${q.bytesKept} bytes kept; mailctl comms show ${q.communicationId}): ${q.error}`);
    } else if (r.status === 'failed') {
      out.error(`${r.table}: ${r.error} (next try ${r.retryAt})`);
    } else {
      out.line(`- ${r.table}: skipped, ${r.reason}`);
    }
  }
}

/** After SIGTERM/SIGINT: how long the work in hand may take before its connections are dropped. */
const stopGraceMs = 4000;
/** After the connections are dropped: how long the work may take to unwind before the daemon exits regardless. */
const unwindMs = 3000;

/**
 * The long-running daemon: one per KB (a lock), a heartbeat every tick (a timer of its own, so it
 * beats while a server is slow), inbound accounts polled when due and the queue sent when due.
 * SIGTERM/SIGINT: no new message or account is taken; the work in hand gets `stopGraceMs`, then
 * its connections are dropped (a message being sent goes back to the queue, a poll commits
 * nothing half-done), and after `unwindMs` more the daemon exits whatever is still waiting: within
 * 10 s of the signal, whatever a server does. SIGHUP reloads the config.
 */
async function runDaemonLoop(deps: Deps, options: DaemonOptions): Promise<number> {
  const timeoutMs = parseDuration(options.timeout);
  const tickMs = parseDuration(options.tick);
  if (timeoutMs === undefined || timeoutMs < 1000) throw new UsageError('E_TIMEOUT', `--timeout "${options.timeout}" is not a duration of at least 1s.`);
  if (tickMs === undefined || tickMs < 100) throw new UsageError('E_TICK', `--tick "${options.tick}" is not a duration of at least 0.1s.`);
  const { out } = deps;
  const configStore = await deps.config();
  const { store } = await deps.secrets();
  const db = await deps.db();
  const messages = await deps.messageStore();
  // Before the lock: a log file refused leaves no lock behind.
  const log = await createDaemonLogger(out, { file: options.logFile, human: out.isTTY && !out.json });
  const lock = acquireDaemonLock(join(deps.paths.dataDir, 'daemon.lock'));
  let stopping = false;
  let reloading = false;
  let wake: (() => void) | undefined;
  const abort = new AbortController();
  let graceTimer: NodeJS.Timeout | undefined;
  let giveUp: (() => void) | undefined;
  const givenUp = new Promise<'given-up'>((resolve) => (giveUp = () => resolve('given-up')));
  let unwindTimer: NodeJS.Timeout | undefined;
  const onStop = (signal: string) => () => {
    if (stopping) return;
    log.info({ signal, graceMs: stopGraceMs }, 'stopping: finishing the work in hand');
    stopping = true;
    graceTimer = setTimeout(() => {
      log.warn({ signal }, 'stopping: the work in hand is taking too long; dropping its connections');
      abort.abort(new Error(`the daemon is stopping (${signal})`));
      unwindTimer = setTimeout(() => giveUp?.(), unwindMs);
    }, stopGraceMs);
    wake?.();
  };
  const onReload = () => { reloading = true; wake?.(); };
  const handlers: Array<[NodeJS.Signals, () => void]> = [['SIGTERM', onStop('SIGTERM')], ['SIGINT', onStop('SIGINT')], ['SIGHUP', onReload]];
  for (const [signal, handler] of handlers) process.on(signal, handler);

  const load = async () => {
    const config = configStore.read();
    const keys = await loadKbKeys(config, store);
    return { config, keys, globals: resolveGlobals(config.globals ?? {}) };
  };
  let heart: NodeJS.Timeout | undefined;
  try {
    await removeOrphans(deps, db, messages, (message) => log.warn({}, message));
    let state = await load();
    const startedAt = deps.clock.now().toISOString();
    const beats = new DaemonStateRepo(db);
    const queue = new QueueRepo(db, deps.clock);
    const purger = new RetentionPurge({ db, store: messages, clock: deps.clock, log });
    const stale = queue.releaseStaleClaims();
    // The outbound server's pacing (connections allowed after throttling, messages per minute) outlives a cycle.
    let pacer: OutboundPacer | undefined;
    const beat = () => {
      try {
        beats.beat({ kb: state.keys.kb.name, pid: process.pid, host: hostname(), startedAt, heartbeatAt: deps.clock.now().toISOString() });
      } catch (error) {
        log.error({ error: (error as Error).message }, 'recording the heartbeat failed');
      }
    };
    beat();
    heart = setInterval(beat, tickMs);
    log.info({ kb: state.keys.kb.name, environment: state.keys.kb.environment, accounts: Object.keys(state.config.inbound ?? {}), staleClaims: stale }, 'daemon started');
    while (!stopping) {
      if (reloading) {
        reloading = false;
        try {
          state = await load();
          log.info({ accounts: Object.keys(state.config.inbound ?? {}) }, 'configuration reloaded (SIGHUP)');
        } catch (error) {
          log.error({ error: (error as Error).message }, 'reload failed; keeping the previous configuration');
        }
      }
      const work = (async () => {
        if (state.globals.email_enabled) {
          pacer = pacerFor(state.config.outbound, pacer);
          const { outbound } = await runDaemonCycle({ db, store: messages, clock: deps.clock, secrets: store, log, timeoutMs }, state, { stop: () => stopping, signal: abort.signal, pacer });
          if (outbound && outbound.claimed > 0) log.info({ ...outbound }, 'outbound cycle');
        }
        // Retention is not mail: it runs with the kill switch on too. Not due, it costs one read.
        if (!stopping) await purger.runIfDue(state.globals, { stop: () => stopping });
      })();
      // A cycle that fails is a bug here (each part catches its own failures): it stops the daemon, as before.
      const ended = await Promise.race([work.then(() => 'done' as const), givenUp]);
      if (ended === 'given-up') {
        // Whatever still waits is abandoned (the process exits); what it claimed goes back to the queue.
        work.catch(() => undefined);
        const requeued = queue.requeueClaimed(interruptedReason);
        log.warn({ requeued }, 'stopping: work still waiting after its connections were dropped was abandoned');
        break;
      }
      if (stopping) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, tickMs);
        wake = () => { clearTimeout(timer); resolve(); };
      });
      wake = undefined;
    }
    log.info({}, 'daemon stopped');
    return ExitCode.ok;
  } finally {
    if (heart) clearInterval(heart);
    clearTimeout(graceTimer);
    clearTimeout(unwindTimer);
    for (const [signal, handler] of handlers) process.off(signal, handler);
    log.flush();
    lock.release();
  }
}

/**
 * At start: what a crash left between storing content and committing its rows (orphan blobs,
 * temporary files) is removed, so the store holds only what communications refer to.
 */
async function removeOrphans(_deps: Deps, db: Database, messages: MessageStore, warn: (message: string) => void): Promise<void> {
  const gc = await collectGarbage(db, messages);
  if (gc.removed > 0 || gc.temporaries > 0) warn(`removed ${gc.removed} stored item(s) and ${gc.temporaries} temporary file(s) that an interrupted run left behind`);
}
