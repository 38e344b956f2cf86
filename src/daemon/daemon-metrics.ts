import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { Database } from '../store/database.js';
import { QueueRepo, type QueueStatus } from '../store/queue-repo.js';
import { SyncRepo } from '../store/sync-repo.js';
import type { TokenRefreshEvent } from '../auth/oauth-token-provider.js';
import type { CommittedMessage } from '../inbound/poll-account.js';
import { checkDaemonHealth, type DaemonHealth, type DaemonView } from './daemon-health.js';

/** What became of one attempt at sending a queued message ("throttled": the server asked us to slow down; not a failure). */
export type SendOutcome = 'sent' | 'deferred' | 'failed' | 'abandoned' | 'held' | 'throttled';


const queueStatuses: readonly QueueStatus[] = ['queued', 'deferred', 'sending', 'sent', 'failed', 'abandoned', 'duplicate', 'held'];

/** Arrival-to-commit buckets (seconds): from a push-speed 0.1 s to an hour behind. */
const latencyBuckets = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

/**
 * The daemon's Prometheus metrics, in a registry of its own (never prom-client's global one,
 * so two daemons in one test process never mix). The daemon calls the event methods as things
 * happen; what the database knows (seconds since each account's last success, its failures in
 * a row, the queue by status) is read at each scrape, so it is right after a restart too.
 * Names follow Prometheus's conventions (base units, `_total` counters); `account` is the
 * inbound account's table name. Default Node process metrics are included.
 */
export class DaemonMetrics {
  readonly registry = new Registry();
  #view: (() => DaemonView) | undefined;
  readonly #polls: Counter<'account' | 'protocol' | 'result'>;
  readonly #messages: Counter<'account' | 'disposition'>;
  readonly #latency: Histogram<'account'>;
  readonly #sends: Counter<'outcome'>;
  readonly #refreshes: Counter<'account' | 'provider' | 'result'>;

  constructor(private readonly deps: { db: Database; clock: Clock }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const metrics = this;
    this.#polls = new Counter({
      name: 'mailctl_inbound_polls_total', help: 'Polls of an inbound account, by result (ok, failed).', labelNames: ['account', 'protocol', 'result'], registers,
      collect() {
        // Series that exist from the start: rate() and alerts see an account's first failure.
        for (const account of metrics.#view?.().accounts ?? []) {
          if (account.enabled) for (const result of ['ok', 'failed']) this.inc({ account: account.table, protocol: account.protocol, result }, 0);
        }
      },
    });
    new Gauge({
      name: 'mailctl_inbound_consecutive_failures', help: 'Failed polls of an enabled inbound account since its last successful one.', labelNames: ['account', 'protocol'], registers,
      collect() {
        this.reset();
        for (const { account, state } of metrics.#accountStates()) this.set({ account: account.table, protocol: account.protocol }, state.failures);
      },
    });
    new Gauge({
      name: 'mailctl_inbound_seconds_since_last_success', help: 'Seconds since the last successful poll of an enabled inbound account (+Inf: never).', labelNames: ['account', 'protocol'], registers,
      collect() {
        this.reset();
        const now = metrics.deps.clock.now().getTime();
        for (const { account, state } of metrics.#accountStates()) {
          this.set({ account: account.table, protocol: account.protocol }, state.lastOkAt ? Math.max(0, (now - Date.parse(state.lastOkAt)) / 1000) : Infinity);
        }
      },
    });
    this.#messages = new Counter({ name: 'mailctl_inbound_messages_total', help: 'Inbound messages committed, by disposition.', labelNames: ['account', 'disposition'], registers });
    this.#latency = new Histogram({
      name: 'mailctl_inbound_arrival_to_commit_seconds', help: 'From a message\'s arrival in the mailbox (IMAP internal date, else its newest Received header) to its commit as a communication.',
      labelNames: ['account'], buckets: latencyBuckets, registers,
    });
    new Gauge({
      name: 'mailctl_outbound_queue_messages', help: 'Messages in the outbound queue, by status.', labelNames: ['status'], registers,
      collect() {
        const counts = new QueueRepo(metrics.deps.db, metrics.deps.clock).counts();
        for (const status of queueStatuses) this.set({ status }, counts[status] ?? 0);
      },
    });
    this.#sends = new Counter({ name: 'mailctl_outbound_send_attempts_total', help: 'Attempts at sending a queued message, by outcome.', labelNames: ['outcome'], registers });
    for (const outcome of ['sent', 'deferred', 'failed', 'abandoned', 'held', 'throttled'] as const) this.#sends.inc({ outcome }, 0);
    this.#refreshes = new Counter({ name: 'mailctl_oauth_token_refreshes_total', help: 'OAuth access tokens fetched (client credentials or a refresh token), by result (ok, failed).', labelNames: ['account', 'provider', 'result'], registers });
  }

  /**
   * The configuration in force, read at each scrape (the daemon reloads it while it runs).
   * Until it is given, the per-account gauges are empty.
   */
  follow(view: () => DaemonView): void {
    this.#view = view;
  }

  /** A poll of an account ended. */
  pollFinished(account: { table: string; protocol: string }, result: 'ok' | 'failed'): void {
    this.#polls.inc({ account: account.table, protocol: account.protocol, result });
  }

  /** A message was committed (its communication written); its latency is observed when its arrival is known. */
  messageCommitted(account: { table: string }, message: CommittedMessage): void {
    this.#messages.inc({ account: account.table, disposition: message.disposition });
    if (message.arrivedAt) this.#latency.observe({ account: account.table }, Math.max(0, (message.committedAt.getTime() - message.arrivedAt.getTime()) / 1000));
  }

  /** One attempt at sending a queued message ended. */
  sendAttempt(outcome: SendOutcome): void {
    this.#sends.inc({ outcome });
  }

  /** An OAuth token was fetched for an account ("outbound", "inbound/<table>"), or fetching it failed. */
  tokenRefresh(event: TokenRefreshEvent): void {
    this.#refreshes.inc({ account: event.place, provider: event.provider, result: event.ok ? 'ok' : 'failed' });
  }

  /** The daemon's health on the configuration followed (checkDaemonHealth); not healthy before follow(). */
  health(): DaemonHealth {
    const view = this.#view?.();
    if (!view) return { healthy: false, problems: ['starting: the configuration is not loaded yet'], notes: [] };
    return checkDaemonHealth(this.deps, view);
  }

  /** The metrics in Prometheus's text format (reads the database). */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The enabled accounts with their sync state. */
  *#accountStates() {
    const view = this.#view?.();
    if (!view) return;
    const sync = new SyncRepo(this.deps.db);
    for (const account of view.accounts) {
      if (account.enabled) yield { account, state: sync.get(account.table) };
    }
  }
}
