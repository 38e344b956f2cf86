import pLimit from 'p-limit';
import { OAuthFailure } from '../auth/oauth-failure.js';
import { UserError } from '../errors.js';
import type { Clock } from '../clock.js';
import type { GlobalValues } from '../config/globals.js';
import type { Logger } from '../logger.js';
import type { SecretStore } from '../secrets/secret-store.js';
import type { Database } from '../store/database.js';
import type { MessageStore } from '../store/message-store.js';
import { SyncRepo } from '../store/sync-repo.js';
import type { InboundAccount } from '../inbound/inbound-config.js';
import type { MailSource } from '../inbound/mail-source.js';
import { openSource } from '../inbound/open-source.js';
import { pollAccount, type MarkSummary, type PollLimits, type PollResult } from '../inbound/poll-account.js';
import type { RefKeys } from '../refs/reference-codec.js';
import type { DaemonMetrics } from './daemon-metrics.js';

export interface InboundCycleContext {
  db: Database;
  store: MessageStore;
  clock: Clock;
  secrets: SecretStore;
  keys: RefKeys;
  kb: string;
  globals: GlobalValues;
  accounts: InboundAccount[];
  log: Logger;
  timeoutMs: number;
  /** Where a mailbox is opened; tests may hand in their own source. */
  open?: (account: InboundAccount) => Promise<MailSource>;
  /** The outbound from-address, for notices to rejected senders. */
  noticeFrom?: string | undefined;
  /** The KB's own addresses (lower case): never sent a notice. */
  ownAddresses?: readonly string[] | undefined;
  stop?: () => boolean;
  /**
   * Aborted when a stopping daemon's grace is over: the mailbox in use is closed at once, so the
   * poll fails wherever it waits; the group of messages not yet committed is not committed, and
   * is taken again next poll.
   */
  signal?: AbortSignal;
  /** What one poll may take (defaultPollLimits when absent). */
  pollLimits?: Partial<PollLimits>;
  /** The daemon's metrics: told each poll's result, each message committed, each token refresh. */
  metrics?: DaemonMetrics | undefined;
}

export type AccountCycleResult =
  | { table: string; status: 'skipped'; reason: string }
  | { table: string; status: 'ok'; swept: boolean; poll: PollResult }
  /** `code`: the typed error's code (E_STORE_FULL, E_DB_FULL, …) when the failure has one. */
  | { table: string; status: 'failed'; error: string; code?: string; retryAt: string };

const maxBackoffMs = 15 * 60_000;

/**
 * One round over the inbound accounts. Each account is polled when due (its check
 * frequency, or later while it backs off after failures); IMAP and Graph accounts get their
 * full sweep when the sweep interval has passed. One failing account never holds up the others.
 */
export async function runInboundCycle(ctx: InboundCycleContext, options: { force?: boolean; forceSweep?: boolean } = {}): Promise<AccountCycleResult[]> {
  // Each mailbox on its own connection, at most max_mailbox_connections at once: a slow or hung
  // one holds up no other (each is bounded by its own deadlines).
  const limit = pLimit(Math.max(1, ctx.globals.max_mailbox_connections));
  const results = await Promise.all(ctx.accounts.map((account) => limit(async () => (ctx.stop?.() ? null : pollOneAccount(ctx, account, options)))));
  return results.filter((r): r is AccountCycleResult => r !== null);
}

/**
 * Polls one inbound account when it is due (its check frequency, or later while it backs off
 * after failures; always with `force`); an IMAP account gets its full sweep when the sweep
 * interval has passed. Never throws for the server's or the message's faults: the result says
 * what happened, and the failure is recorded (status, doctor, back-off).
 */
export async function pollOneAccount(ctx: InboundCycleContext, account: InboundAccount, options: { force?: boolean; forceSweep?: boolean } = {}): Promise<AccountCycleResult> {
  const sync = new SyncRepo(ctx.db);
  let result: AccountCycleResult;
  {
    const table = account.table;
    if (!account.enabled) return { table, status: 'skipped', reason: 'disabled' };
    const now = ctx.clock.now();
    const state = sync.get(table);
    if (!options.force && state.nextPollAt && Date.parse(state.nextPollAt) > now.getTime()) {
      return { table, status: 'skipped', reason: `not due until ${state.nextPollAt}` };
    }
    if (!state.lastSweepAt) sync.startSweepClock(table, now);
    // Graph's sweep starts its delta over: a full listing, the safety net for what a delta missed.
    const swept = (account.protocol === 'imap' || account.protocol === 'graph') && (Boolean(options.forceSweep) || (state.lastSweepAt !== null && now.getTime() - Date.parse(state.lastSweepAt) >= ctx.globals.imap_full_sweep_interval));
    let source: MailSource | undefined;
    const abort = () => {
      if (source?.abort) source.abort();
      else void source?.close().catch(() => undefined);
    };
    ctx.signal?.addEventListener('abort', abort, { once: true });
    try {
      source = ctx.open ? await ctx.open(account) : await openSource(account, { secrets: ctx.secrets, timeoutMs: ctx.timeoutMs, clock: ctx.clock, maxMessageBytes: ctx.globals.max_message_size, onTokenRefresh: ctx.metrics && ((event) => ctx.metrics!.tokenRefresh(event)) });
      if (ctx.signal?.aborted) throw new Error('the daemon is stopping');
      const poll = await pollAccount({ db: ctx.db, store: ctx.store, clock: ctx.clock, keys: ctx.keys, kb: ctx.kb, maxTextChars: ctx.globals.max_body_size, maxMessageBytes: ctx.globals.max_message_size, noticeFrom: ctx.noticeFrom, noticeIntervalMs: ctx.globals.reject_notice_interval, ownAddresses: ctx.ownAddresses, referenceLifetimeMs: ctx.globals.reference_lifetime }, account, source, { sweep: swept, ...(ctx.stop ? { stop: ctx.stop } : {}), ...(ctx.pollLimits ? { limits: ctx.pollLimits } : {}), ...(ctx.metrics ? { onCommit: (message) => ctx.metrics!.messageCommitted(account, message) } : {}) });
      // A poll that stopped at its cap is due again at once: the other mailboxes and the queue get their turn first.
      sync.recordSuccess(table, now, swept, poll.capped ? now : new Date(now.getTime() + ctx.globals.inbound_check_frequency));
      recordMarks(sync, account, now, poll.marks);
      ctx.metrics?.pollFinished(account, 'ok');
      ctx.log.info({ account: table, swept, ...poll }, `polled ${table}`);
      for (const f of poll.failed) ctx.log.error({ account: table, key: f.key, subject: f.subject, from: f.from, attempts: f.attempts, error: f.error }, `a message in ${table} could not be taken (attempt ${f.attempts}); it is tried again next poll`);
      for (const q of poll.quarantined) ctx.log.error({ account: table, key: q.key, subject: q.subject, from: q.from, attempts: q.attempts, communicationId: q.communicationId, error: q.error }, `a message in ${table} was quarantined after ${q.attempts} failed attempts (communication ${q.communicationId})`);
      if (poll.marks.failed > 0) ctx.log.error({ account: table, failed: poll.marks.failed, error: poll.marks.warning }, `marking messages done in ${table} failed; they are committed and marked again next poll`);
      // A steady state of the server, shown by status and doctor: info, not a warning every poll.
      else if (poll.marks.leftFlagged > 0) ctx.log.info({ account: table, leftFlagged: poll.marks.leftFlagged, reason: poll.marks.warning }, `messages in ${table} were flagged \\Deleted and left in the folder`);
      result = { table, status: 'ok', swept, poll };
    } catch (error) {
      if (ctx.signal?.aborted) {
        // Stopped by the daemon, not failed by the server: no failure, no back-off.
        // The reason: the daemon stopping, or this account changed or removed while it was polled.
        const why = ctx.signal.reason instanceof Error ? ctx.signal.reason.message : 'the daemon is stopping';
        ctx.log.warn({ account: table }, `polling ${table} interrupted: ${why}; what was not committed is taken again next poll`);
        return { table, status: 'skipped', reason: `interrupted: ${why}` };
      }
      // A token failure says so: the provider's bare words ("endpoints_resolution_error: …") do not name it.
      const message = error instanceof OAuthFailure ? `Getting an OAuth token failed: ${error.message}` : (error as Error).message;
      const backoff = Math.min(ctx.globals.inbound_check_frequency * 2 ** Math.min(state.failures, 10), maxBackoffMs);
      const retryAt = new Date(now.getTime() + Math.max(backoff, ctx.globals.inbound_check_frequency));
      try {
        sync.recordFailure(table, now, message, retryAt);
      } catch (recordError) {
        // The database's disk is full (the failure itself, often): the result below still says
        // what happened, and the other accounts are still polled.
        ctx.log.error({ account: table, error: (recordError as Error).message }, `recording the failed poll of ${table} failed`);
      }
      ctx.metrics?.pollFinished(account, 'failed');
      const code = error instanceof UserError ? error.code : undefined;
      ctx.log.error({ account: table, error: message, ...(code ? { code } : {}), retryAt: retryAt.toISOString() }, `polling ${table} failed`);
      result = { table, status: 'failed', error: message, ...(code ? { code } : {}), retryAt: retryAt.toISOString() };
    } finally {
      ctx.signal?.removeEventListener('abort', abort);
      if (!ctx.signal?.aborted) await source?.close().catch(() => undefined);
    }
  }
  return result;
}

/**
 * The account's mark warning after a poll: a refusal wins over "left flagged"; a poll that
 * marked everything as asked clears it; a poll that marked nothing leaves it as it was (a
 * server without UIDPLUS stays without it until a mark shows otherwise).
 */
function recordMarks(sync: SyncRepo, account: InboundAccount, at: Date, marks: MarkSummary): void {
  if (marks.failed > 0) sync.setMarkWarning(account.table, { kind: 'failed', action: account.afterProcessing, at: at.toISOString(), messages: marks.failed, detail: marks.warning ?? 'the server refused' });
  else if (marks.leftFlagged > 0) sync.setMarkWarning(account.table, { kind: 'left-flagged', action: account.afterProcessing, at: at.toISOString(), messages: marks.leftFlagged, detail: marks.warning ?? '' });
  else if (marks.marked > 0) sync.setMarkWarning(account.table, null);
}
