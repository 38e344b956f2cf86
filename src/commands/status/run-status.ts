import type { Deps } from '../../deps.js';
import { ExitCode, UsageError, UserError } from '../../errors.js';
import type { MailctlConfig } from '../../config/config-schema.js';
import { resolveGlobals } from '../../config/globals.js';
import { approxSize, parseDuration } from '../../config/units.js';
import { requireKb } from '../../kb/load-kb.js';
import { daemonLiveness, type DaemonLivenessState } from '../../daemon/daemon-liveness.js';
import { localProcessProbe } from '../../daemon/process-identity.js';
import { assessHealth, stuckAfterMs, type Health } from './assess-health.js';
import { CommunicationsRepo } from '../../store/communications-repo.js';
import { DaemonStateRepo } from '../../store/daemon-state-repo.js';
import type { Database } from '../../store/database.js';
import { SyncRepo, type MarkWarning } from '../../store/sync-repo.js';

interface StatusView {
  kb: string;
  environment: string;
  emailEnabled: boolean;
  daemon: {
    state: DaemonLivenessState; running: boolean; summary: string; mode: 'loop' | 'once' | null;
    pid: number | null; host: string | null; since: string | null; heartbeatAt: string | null; stoppedAt: string | null; result: string | null;
    configGeneration: string | null; configError: string | null; configErrorAt: string | null;
  };
  accounts: Array<{ table: string; protocol: string; enabled: boolean; lastPollAt: string | null; lastOkAt: string | null; lastError: string | null; failures: number; nextPollAt: string | null; markWarning: MarkWarning | null; quarantined: number }>;
  queue: { counts: Record<string, number>; oldestDeferred: string | null; nextRetry: string | null; stuck: number; oldestStuck: string | null };
  store: StoreView;
  health: Health;
}

interface StoreView {
  location: string;
  /** Blobs on disk and their size (deduplicated, orphans included); `exact` false when estimated. */
  blobs: number | null;
  bytes: number | null;
  exact: boolean;
  /** The store's filesystem: bytes in all, free for mailctl, and used. */
  filesystem: { total: number; free: number; used: number } | null;
}

/** How long status may walk the store before it estimates from the part walked. */
const storeWalkBudgetMs = 1500;

/**
 * The store's size, walked on disk: what it really takes (a blob shared by many messages once,
 * orphans too), which no sum over the database's rows gives. About 80 ms per 10,000 blobs.
 */
async function measureStore(deps: Deps): Promise<StoreView> {
  const store = await deps.messageStore();
  const usage = store.usage ? await store.usage({ deadlineMs: Date.now() + storeWalkBudgetMs }) : undefined;
  const filesystem = store.filesystem ? await store.filesystem().catch(() => null) : null;
  return { location: store.location, blobs: usage?.blobs ?? null, bytes: usage?.bytes ?? null, exact: usage?.exact ?? true, filesystem };
}

/** Quarantined mail still waiting for a look is counted over this many days (as doctor does). */
const quarantineDays = 7;

function gather(deps: Deps, db: Database, config: import('../../config/config-schema.js').MailctlConfig, store: StoreView): StatusView {
  const kb = requireKb(config);
  const globals = resolveGlobals(config.globals ?? {});
  const beat = new DaemonStateRepo(db).get(kb.name);
  const now = deps.clock.now();
  const liveness = daemonLiveness(beat, now, globals.inbound_check_frequency, localProcessProbe(deps.paths.dataDir));
  const sync = new SyncRepo(db);
  const counts = Object.fromEntries((db.prepare('SELECT status, count(*) AS n FROM outbound_queue GROUP BY status').all() as Array<{ status: string; n: number }>).map((r) => [r.status, r.n]));
  const quarantined = new CommunicationsRepo(db, deps.clock).quarantinedNotReplayed(new Date(deps.clock.now().getTime() - quarantineDays * 86_400_000).toISOString(), 0).byAccount;
  const deferred = db.prepare(`SELECT MIN(COALESCE(first_failure_at, created_at)) AS oldest, MIN(next_attempt_at) AS next FROM outbound_queue WHERE status IN ('deferred', 'queued')`).get() as { oldest: string | null; next: string | null };
  // Waiting since it was queued, or since its first failure: a message retried for over an hour is stuck.
  const stuck = db.prepare(`SELECT count(*) AS n, MIN(COALESCE(first_failure_at, created_at)) AS oldest FROM outbound_queue
    WHERE status IN ('deferred', 'queued') AND COALESCE(first_failure_at, created_at) <= ?`).get(new Date(now.getTime() - stuckAfterMs).toISOString()) as { n: number; oldest: string | null };
  const daemon: StatusView['daemon'] = {
    ...liveness, mode: beat?.mode ?? null, pid: beat?.pid ?? null, host: beat?.host ?? null, since: beat?.startedAt ?? null, heartbeatAt: beat?.heartbeatAt ?? null,
    stoppedAt: beat?.stoppedAt ?? null, result: beat?.result ?? null,
    configGeneration: beat?.configGeneration ?? null, configError: beat?.configError ?? null, configErrorAt: beat?.configErrorAt ?? null,
  };
  const accounts = Object.values(config.inbound ?? {}).map((a) => {
    const s = sync.get(a.table);
    return { table: a.table, protocol: a.protocol, enabled: a.enabled, lastPollAt: s.lastPollAt, lastOkAt: s.lastOkAt, lastError: s.lastError, failures: s.failures, nextPollAt: s.nextPollAt, markWarning: s.markWarning, quarantined: quarantined[a.table] ?? 0 };
  });
  const queue = { counts, oldestDeferred: deferred.oldest, nextRetry: deferred.next, stuck: stuck.n, oldestStuck: stuck.oldest };
  const health = assessHealth({ emailEnabled: globals.email_enabled, daemon, accounts, queue, quarantineDays });
  return { kb: kb.name, environment: kb.environment, emailEnabled: globals.email_enabled, daemon, accounts, queue, store, health };
}

function show(deps: Deps, v: StatusView): void {
  const { out } = deps;
  const c = out.color;
  out.line(`${c.bold(v.kb)} (${v.environment})${v.emailEnabled ? '' : c.red('  email_enabled is false: nothing is polled or sent')}`);
  const d = v.daemon;
  if (d.state === 'never') out.line(`daemon   ${c.yellow('never ran')} for this KB (start it with: mailctl daemon)`);
  else out.line(`daemon   ${d.running ? c.green(d.summary) : c.red(d.summary)}`);
  if (d.running && d.configError) out.line(`         ${c.yellow(`⚠ running on the previous configuration: ${d.configError} (since ${d.configErrorAt}); fix the file, the daemon takes it once it reads well`)}`);
  if (v.accounts.length === 0) out.line('inbound  no accounts');
  for (const a of v.accounts) {
    const w = a.markWarning;
    // A refused move/delete is no ✓: the mail was taken, but the mailbox is not what the account asks.
    const result = a.lastError ? c.red(`✗ ${a.lastError.slice(0, 80)} (${a.failures} failure(s), next try ${a.nextPollAt})`)
      : w?.kind === 'failed' ? c.red(`✗ mail taken, but "${w.action}" failed for ${w.messages} message(s) at ${w.at}: ${w.detail.slice(0, 160)}`)
      : a.lastOkAt ? c.green('✓ ok') : 'not polled yet';
    out.line(`inbound  ${a.table} (${a.protocol}): last poll ${a.lastPollAt ?? '-'}  ${result}`);
    if (a.quarantined > 0) out.line(`         ${c.yellow(`⚠ ${a.quarantined} message(s) quarantined in the last ${quarantineDays} days, not replayed: mailctl comms list --disposition quarantined --since ${quarantineDays}d`)}`);
    if (w?.kind === 'left-flagged') out.line(`         ${c.yellow(`⚠ ${w.detail.slice(0, 200)} (${w.messages} message(s) at ${w.at}; see mailctl doctor)`)}`);
  }
  const counts = Object.entries(v.queue.counts).map(([s, n]) => `${s} ${n}`).join(', ') || 'empty';
  out.line(`queue    ${counts}${v.queue.oldestDeferred ? `; oldest waiting since ${v.queue.oldestDeferred}, next try ${v.queue.nextRetry}` : ''}`);
  const st = v.store;
  const size = st.blobs === null ? 'size unknown' : `${st.exact ? '' : 'about '}${st.blobs} stored item(s), ${approxSize(st.bytes!)} on disk`;
  let space = '';
  if (st.filesystem && st.filesystem.used + st.filesystem.free > 0) {
    // df's Use%: blocks reserved for root are neither used nor free for mailctl.
    const used = Math.ceil((st.filesystem.used / (st.filesystem.used + st.filesystem.free)) * 100);
    const text = `${approxSize(st.filesystem.free)} free of ${approxSize(st.filesystem.total)} (${used}% used)`;
    space = `; disk ${used > 90 ? c.red(text) : text}`;
  }
  out.line(`store    ${size} in ${st.location}${space}`);
}

/**
 * `mailctl status [--watch] [--check]`: the daemon, each account's last poll, the queue, the
 * message store, on one screen; exit 0. With --check: one monitoring line (assessHealth) and its
 * exit code, 0 healthy, 1 degraded, 2 down (with --json: the whole view and `health`).
 */
export async function runStatus(deps: Deps, options: { watch?: string | boolean; check?: boolean }): Promise<number> {
  let config: MailctlConfig;
  try {
    config = (await deps.config()).read();
  } catch (error) {
    // A config file broken by hand while the daemon runs on the previous one: a monitoring probe
    // still gets its one line and a WARNING (the daemon runs) or CRITICAL (none does), not exit 3.
    if (!(error instanceof UserError) || error.exitCode !== ExitCode.config) throw error;
    if (options.check) return checkWithBrokenConfig(deps, error);
    // Plain status still says what the daemon does meanwhile, then the file's problem (exit 3).
    const live = await recordedLiveness(deps);
    deps.out.line(`daemon   ${live.summary}${live.running ? '; it runs on the previous configuration until the file is mended' : ''}`);
    throw error;
  }
  const db = await deps.db();
  if (options.check) {
    if (options.watch) throw new UsageError('E_CHECK_WATCH', '--check prints one line and exits: it does not go with --watch.');
    // The store's walk is left out: a monitoring probe runs every minute and must stay cheap.
    const view = gather(deps, db, config, { location: (await deps.messageStore()).location, blobs: null, bytes: null, exact: false, filesystem: null });
    deps.out.line(view.health.line);
    deps.out.data({ ok: view.health.level === 'ok', ...view });
    return view.health.code;
  }
  const view = gather(deps, db, config, await measureStore(deps));
  if (!options.watch || deps.out.json) {
    show(deps, view);
    deps.out.data({ ok: true, ...view });
    return ExitCode.ok;
  }
  const every = options.watch === true ? 2000 : parseDuration(String(options.watch));
  if (every === undefined || every < 500) throw new UsageError('E_WATCH', `--watch "${String(options.watch)}" is not a duration of at least 0.5s.`);
  // The store is walked at most once a minute: it changes slowly, and a walk costs more than the rest.
  let store = view.store;
  let measuredAt = Date.now();
  for (;;) {
    if (Date.now() - measuredAt >= 60_000) {
      store = await measureStore(deps);
      measuredAt = Date.now();
    }
    deps.out.raw('\u001b[2J\u001b[H'); // clear the screen, then redraw
    show(deps, gather(deps, db, (await deps.config()).read(), store));
    deps.out.line(deps.out.color.dim(`\nrefreshing every ${every / 1000}s; Ctrl-C to stop`));
    await new Promise((r) => setTimeout(r, every));
  }
}

/** `status --check` when the config file cannot be read: what the recorded daemon state says, with the file's problem. */
async function checkWithBrokenConfig(deps: Deps, error: UserError): Promise<number> {
  const live = await recordedLiveness(deps);
  const problem = error.message.replace(/\s+/g, ' ');
  const code = live.running ? 1 : 2;
  const line = `MAILCTL ${live.running ? 'WARNING' : 'CRITICAL'} - ${problem}; daemon ${live.summary}${live.running ? ', on the previous configuration' : ''}`;
  deps.out.line(line);
  deps.out.data({ ok: false, health: { level: live.running ? 'degraded' : 'down', code, line, problems: [problem, `daemon ${live.summary}`] } });
  return code;
}

/** The recorded daemon's liveness without the config file (its KB is the one the database records). */
async function recordedLiveness(deps: Deps): Promise<ReturnType<typeof daemonLiveness>> {
  const db = await deps.db();
  const row = db.prepare('SELECT kb FROM daemon_state ORDER BY heartbeat_at DESC LIMIT 1').get() as { kb: string } | undefined;
  const beat = row ? new DaemonStateRepo(db).get(row.kb) : undefined;
  return daemonLiveness(beat, deps.clock.now(), resolveGlobals({}).inbound_check_frequency, localProcessProbe(deps.paths.dataDir));
}
