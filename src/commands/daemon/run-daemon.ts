import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Deps } from '../../deps.js';
import { acquireDaemonLock } from '../../daemon/daemon-lock.js';
import { createDaemonLogger } from '../../daemon/daemon-logger.js';
import { DaemonStateRepo } from '../../store/daemon-state-repo.js';
import { ExitCode, UsageError } from '../../errors.js';
import { resolveGlobals } from '../../config/globals.js';
import { parseDuration } from '../../config/units.js';
import { loadKbKeys, requireKb } from '../../kb/load-kb.js';
import { processStart } from '../../daemon/process-identity.js';
import type { AccountCycleResult } from '../../daemon/inbound-cycle.js';
import { runDaemonCycle } from '../../daemon/run-cycle.js';
import { DaemonScheduler } from '../../daemon/daemon-scheduler.js';
import { ConfigWatcher, loadCycleState } from '../../daemon/config-watcher.js';
import { muteSecretsMarks } from '../../config/config-generation.js';
import { interruptedReason } from '../../daemon/outbound-cycle.js';
import type { Logger } from '../../logger.js';
import { QueueRepo } from '../../store/queue-repo.js';
import type { Database } from '../../store/database.js';
import type { MessageStore } from '../../store/message-store.js';
import { collectGarbage } from '../../store/store-gc.js';
import { RetentionPurge, type RetentionPurgeOutcome } from '../../daemon/retention-purge.js';
import { purgeSummary } from '../comms/purge-summary.js';
import { silentLogger } from '../../logger.js';
import { defaultPollLimits, describe } from '../../inbound/poll-account.js';
import { DaemonMetrics } from '../../daemon/daemon-metrics.js';
import { startMetricsServer } from '../../daemon/metrics-server.js';

export interface DaemonOptions {
  once?: boolean;
  sweep?: boolean;
  timeout: string;
  tick: string;
  logFile?: string;
  /** `[HOST:]PORT` for the Prometheus metrics and /healthz (HOST 127.0.0.1 when not given). */
  metrics?: string;
}

/**
 * `mailctl daemon --once`: one cycle of inbound polling and outbound sending, then the
 * retention purge when it is due, then exit (cron and tests).
 */
export async function runDaemon(deps: Deps, options: DaemonOptions): Promise<number> {
  const { out } = deps;
  if (!options.once) return runDaemonLoop(deps, options);
  if (options.metrics) throw new UsageError('E_METRICS_ONCE', '--metrics is for the long-running daemon: --once exits before anything could scrape it.');
  const timeoutMs = parseDuration(options.timeout);
  if (timeoutMs === undefined || timeoutMs < 1000) throw new UsageError('E_TIMEOUT', `--timeout "${options.timeout}" is not a duration of at least 1s.`);
  const config = (await deps.config()).read();
  const globals = resolveGlobals(config.globals ?? {});
  const db = await deps.db();
  const messages = await deps.messageStore();
  // The same lock as the loop: beside a running daemon, --once would release its claims
  // on the messages in hand and send them a second time.
  const lock = acquireDaemonLock(join(deps.paths.dataDir, 'daemon.lock'));
  // Issue 15: the run is recorded (running, then its end and result), so status knows a cron setup.
  const runs = new DaemonStateRepo(db);
  const kbName = requireKb(config).name;
  const at = () => deps.clock.now().toISOString();
  runs.startOnce({ kb: kbName, pid: process.pid, host: hostname(), startedAt: at(), heartbeatAt: at(), processStart: processStart(process.pid) ?? null });
  let ended: { result: 'ok' | 'failed' | 'error'; detail?: string } = { result: 'error', detail: 'the run ended without a result' };
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
    ended = result.code === ExitCode.ok ? { result: 'ok' } : { result: 'failed', detail: 'an account or a message failed (see the run\'s output)' };
    return result.code;
  } catch (error) {
    ended = { result: 'error', detail: (error as Error).message };
    throw error;
  } finally {
    try {
      runs.finishOnce(kbName, process.pid, at(), ended.result, ended.detail);
    } catch (error) {
      out.warn(`recording the end of this run failed: ${(error as Error).message}`);
    }
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
 * beats while a server is slow), and the scheduler's workers: each inbound account on its own
 * schedule and connection, the outbound queue, the retention purge (src/daemon/daemon-scheduler.ts).
 * Changes to the config file, the globals and the secrets are followed within 2 s without a
 * signal (src/daemon/config-watcher.ts); SIGHUP loads them at once. SIGTERM/SIGINT: no new message
 * or account is taken; the work in hand gets `stopGraceMs`, then its connections are dropped (a
 * message being sent goes back to the queue, a poll commits nothing half-done), and after
 * `unwindMs` more the daemon exits whatever is still waiting: within 10 s of the signal.
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
  // Before the lock too: a metrics port in use refuses the start (exit 2) and leaves no lock behind.
  const metrics = options.metrics ? new DaemonMetrics({ db, clock: deps.clock }) : undefined;
  const metricsServer = metrics ? await startMetricsServer(options.metrics!, metrics, () => metrics.health(), log) : undefined;
  let lock: ReturnType<typeof acquireDaemonLock>;
  try {
    lock = acquireDaemonLock(join(deps.paths.dataDir, 'daemon.lock'));
  } catch (error) {
    await metricsServer?.close();
    throw error;
  }
  // The token cache the daemon refreshes is its own write, not an admin's change to follow.
  muteSecretsMarks();
  let scheduler: DaemonScheduler | undefined;
  let watcher: ConfigWatcher | undefined;
  let stopped: () => void = () => undefined;
  const stopRequested = new Promise<void>((resolve) => (stopped = resolve));
  let stopping = false;
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
    scheduler?.requestStop();
    stopped();
  };
  const onReload = () => { void watcher?.reloadNow(); };
  const handlers: Array<[NodeJS.Signals, () => void]> = [['SIGTERM', onStop('SIGTERM')], ['SIGINT', onStop('SIGINT')], ['SIGHUP', onReload]];
  for (const [signal, handler] of handlers) process.on(signal, handler);

  let heart: NodeJS.Timeout | undefined;
  // Issue 15: a clean stop (or an end by an error) is recorded at once, so status says "stopped".
  let markStopped: ((error?: string) => void) | undefined;
  let stopError: string | undefined;
  try {
    await removeOrphans(deps, db, messages, (message) => log.warn({}, message));
    const state = await loadCycleState(configStore, store);
    const kb = state.keys.kb.name;
    const startedAt = deps.clock.now().toISOString();
    const beats = new DaemonStateRepo(db);
    const queue = new QueueRepo(db, deps.clock);
    const stale = queue.releaseStaleClaims();
    const identity = processStart(process.pid) ?? null;
    const beat = () => {
      try {
        beats.beat({ kb, pid: process.pid, host: hostname(), startedAt, heartbeatAt: deps.clock.now().toISOString(), processStart: identity });
      } catch (error) {
        log.error({ error: (error as Error).message }, 'recording the heartbeat failed');
      }
    };
    beat();
    markStopped = (error) => beats.markStopped(kb, process.pid, deps.clock.now().toISOString(), error);
    heart = setInterval(beat, tickMs);
    const running = new DaemonScheduler({ db, store: messages, clock: deps.clock, secrets: store, log, timeoutMs, tickMs, signal: abort.signal, ...(metrics ? { metrics } : {}) }, state);
    scheduler = running;
    // The metrics follow the configuration in force (accounts added or removed, frequencies).
    metrics?.follow(() => ({ accounts: Object.values(running.state.config.inbound ?? {}), globals: running.state.globals }));
    watcher = new ConfigWatcher({
      paths: deps.paths, config: configStore, secrets: store, db, log,
      apply: (next, how) => running.apply(next, how),
      databaseChanged: () => running.wakeOutbound(),
      record: (generation, error) => beats.recordConfig(kb, { generation, error }),
    });
    watcher.start();
    log.info({ kb, environment: state.keys.kb.environment, accounts: Object.keys(state.config.inbound ?? {}), staleClaims: stale, ...(metricsServer ? { metrics: `http://${metricsServer.host.includes(':') ? `[${metricsServer.host}]` : metricsServer.host}:${metricsServer.port}/metrics` } : {}) }, 'daemon started');
    if (!stopping) running.start();
    else running.requestStop();
    await stopRequested;
    const ended = await Promise.race([running.finished().then(() => 'done' as const), givenUp]);
    if (ended === 'given-up') {
      // Whatever still waits is abandoned (the process exits); what it claimed goes back to the queue.
      const requeued = queue.requeueClaimed(interruptedReason);
      log.warn({ requeued }, 'stopping: work still waiting after its connections were dropped was abandoned');
    }
    log.info({}, 'daemon stopped');
    return ExitCode.ok;
  } catch (error) {
    stopError = (error as Error).message;
    throw error;
  } finally {
    watcher?.stop();
    if (heart) clearInterval(heart);
    try {
      markStopped?.(stopError);
    } catch (error) {
      log.error({ error: (error as Error).message }, 'recording the stop failed');
    }
    clearTimeout(graceTimer);
    clearTimeout(unwindTimer);
    for (const [signal, handler] of handlers) process.off(signal, handler);
    await metricsServer?.close();
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
