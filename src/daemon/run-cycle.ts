import type { Clock } from '../clock.js';
import type { MailctlConfig } from '../config/config-schema.js';
import type { GlobalValues } from '../config/globals.js';
import { outboundTokenProvider } from '../auth/token-provider-for.js';
import type { KbKeys } from '../kb/load-kb.js';
import type { InboundAccount } from '../inbound/inbound-config.js';
import type { Logger } from '../logger.js';
import { requireOutbound, smtpTargetFor } from '../outbound/resolve-outbound.js';
import type { SecretStore } from '../secrets/secret-store.js';
import type { Database } from '../store/database.js';
import type { MessageStore } from '../store/message-store.js';
import type { OutboundPacer } from '../outbound/outbound-pacer.js';
import { ownAddresses } from '../inbound/reject-notice.js';
import { runInboundCycle, type AccountCycleResult, type InboundCycleContext } from './inbound-cycle.js';
import { runOutboundCycle, type OutboundCycleResult } from './outbound-cycle.js';
import type { DaemonMetrics } from './daemon-metrics.js';

/** What a cycle reads from the configuration (reloaded on SIGHUP). */
export interface CycleState {
  config: MailctlConfig;
  keys: KbKeys;
  globals: GlobalValues;
}

export interface CycleDeps {
  db: Database;
  /** The message store: every message taken or sent is kept there. */
  store: MessageStore;
  clock: Clock;
  secrets: SecretStore;
  log: Logger;
  timeoutMs: number;
  /** The daemon's metrics (--metrics), told what happens. */
  metrics?: DaemonMetrics | undefined;
}

/**
 * One daemon cycle: the inbound accounts that are due, then the queue (when a server is set up).
 * `stop`: take no new message or account; `signal`: drop the connections in use now (the daemon
 * stopping after its grace), leaving nothing half-done (see runInboundCycle, runOutboundCycle).
 */
export async function runDaemonCycle(
  deps: CycleDeps,
  state: CycleState,
  options: { force?: boolean; forceSweep?: boolean; stop?: () => boolean; signal?: AbortSignal; pacer?: OutboundPacer } = {},
): Promise<{ inbound: AccountCycleResult[]; outbound: OutboundCycleResult | null }> {
  const { config } = state;
  const inbound = await runInboundCycle(
    inboundContextFor(deps, state, Object.values(config.inbound ?? {}), options),
    { ...(options.force ? { force: true } : {}), ...(options.forceSweep ? { forceSweep: true } : {}) },
  );
  if (options.stop?.() || !config.outbound?.host) return { inbound, outbound: null };
  return { inbound, outbound: await runOutboundFor(deps, state, options) };
}

/**
 * The context an inbound poll of `accounts` runs in, from the configuration in force: the KB's
 * keys, the globals, the notice from-address and the KB's own addresses. Shared by `daemon --once`
 * and the running daemon's workers.
 */
export function inboundContextFor(deps: CycleDeps, state: CycleState, accounts: InboundAccount[], options: { stop?: () => boolean; signal?: AbortSignal }): InboundCycleContext {
  const { config, keys, globals } = state;
  return {
    db: deps.db, store: deps.store, clock: deps.clock, secrets: deps.secrets, keys: keys.all, kb: keys.kb.name, globals, accounts,
    log: deps.log, timeoutMs: deps.timeoutMs, noticeFrom: config.outbound?.from, ownAddresses: ownAddresses(config),
    ...(options.stop ? { stop: options.stop } : {}), ...(options.signal ? { signal: options.signal } : {}), metrics: deps.metrics,
  };
}

/**
 * One outbound cycle on the configured server (requireOutbound throws when none is), with an
 * OAuth token provider for this cycle. Shared by `daemon --once` and the running daemon's worker.
 */
export async function runOutboundFor(deps: CycleDeps, state: CycleState, options: { stop?: () => boolean; signal?: AbortSignal; pacer?: OutboundPacer; batch?: number }): Promise<OutboundCycleResult> {
  const { config, keys, globals } = state;
  const server = requireOutbound(config);
  const tokens = outboundTokenProvider(server, { secrets: deps.secrets, clock: deps.clock, timeoutMs: deps.timeoutMs, ...(deps.metrics ? { onRefresh: (event) => deps.metrics!.tokenRefresh(event) } : {}) });
  return runOutboundCycle({
    db: deps.db, store: deps.store, clock: deps.clock, kb: keys.kb, key: keys.active, globals, outbound: server, log: deps.log,
    target: () => smtpTargetFor(server, deps.secrets, deps.timeoutMs, tokens),
    ...(options.stop ? { stop: options.stop } : {}), ...(options.signal ? { signal: options.signal } : {}), ...(options.pacer ? { pacer: options.pacer } : {}),
    ...(options.batch !== undefined ? { batch: options.batch } : {}), metrics: deps.metrics,
  });
}
