import { OAuthFailure } from '../auth/oauth-failure.js';
import type { Clock } from '../clock.js';
import type { KbConfig } from '../config/config-schema.js';
import type { GlobalValues } from '../config/globals.js';
import type { Logger } from '../logger.js';
import { composeMessage } from '../outbound/compose-message.js';
import type { OutboundConfig } from '../outbound/outbound-config.js';
import { afterFailure } from '../outbound/retry-policy.js';
import { SmtpFailure } from '../outbound/smtp-failure.js';
import { openSmtpSession, type SmtpSession, type SmtpTarget } from '../outbound/smtp-session.js';
import type { Database } from '../store/database.js';
import type { MessageStore } from '../store/message-store.js';
import { QueueRepo, type QueueEntry } from '../store/queue-repo.js';

export interface OutboundCycleContext {
  db: Database;
  store: MessageStore;
  clock: Clock;
  kb: KbConfig;
  key: { id: string; bytes: Buffer };
  globals: GlobalValues;
  outbound: OutboundConfig;
  /** Builds the SMTP target (with a fresh OAuth token when the server uses OAuth). */
  target: () => Promise<SmtpTarget>;
  log: Logger;
  batch?: number;
  /** Connections used at once (default 4). */
  connections?: number;
}

export interface OutboundCycleResult {
  claimed: number;
  sent: number;
  deferred: number;
  failed: number;
  abandoned: number;
  held: number;
}

/** Why a test or dev KB must not send to this message's recipients, or undefined when it may. */
export function nonProductionBlock(kb: KbConfig, globals: GlobalValues): string | undefined {
  if (kb.environment === 'production' || globals.nonproduction_allow_outbound || globals.nonproduction_redirect) return undefined;
  return `this is a ${kb.environment} KB: mail is held until nonproduction_redirect or nonproduction_allow_outbound is set`;
}

/**
 * Sends what is due: claims the due messages, stamps each with the reference, sends it,
 * and records every attempt; a failure is retried, abandoned or failed by the retry policy.
 * A test/dev KB sends nothing to real people: held, or redirected to the test address.
 */
export async function runOutboundCycle(ctx: OutboundCycleContext): Promise<OutboundCycleResult> {
  const queue = new QueueRepo(ctx.db, ctx.clock);
  const result: OutboundCycleResult = { claimed: 0, sent: 0, deferred: 0, failed: 0, abandoned: 0, held: 0 };
  const due = queue.claimDue(ctx.clock.now(), ctx.batch ?? 100);
  result.claimed = due.length;
  if (due.length === 0) return result;
  // A few connections, each sending its share of the batch in turn (like nodemailer's pool);
  // a connection a failure left unusable is opened again for the next message.
  const block = nonProductionBlock(ctx.kb, ctx.globals);
  const work = [...due];
  const worker = async () => {
    let session: SmtpSession | undefined;
    try {
      for (let entry = work.shift(); entry; entry = work.shift()) {
        if (block) {
          queue.setStatus(entry.id, 'held', { lastError: block });
          result.held++;
          continue;
        }
        const now = ctx.clock.now();
        try {
          session ??= await openSmtpSession(await ctx.target());
          await sendOne(ctx, queue, entry, session, now);
          result.sent++;
        } catch (error) {
          session?.close();
          session = undefined;
          recordFailure(ctx, queue, entry, error, now, result);
        }
      }
    } finally {
      session?.close();
    }
  };
  await Promise.all(Array.from({ length: Math.min(ctx.connections ?? 4, due.length) }, worker));
  return result;
}

function recordFailure(ctx: OutboundCycleContext, queue: QueueRepo, entry: QueueEntry, error: unknown, now: Date, result: OutboundCycleResult): void {
  const failure = error instanceof SmtpFailure ? error : undefined;
  const said = failure ? (failure.response ?? failure.message) : error instanceof OAuthFailure ? `Getting an OAuth token failed: ${error.message}` : (error as Error).message;
  queue.recordAttempt(entry.id, failure ? `failed during ${failure.phase}` : 'failed', said);
  const next = afterFailure({ transient: failure ? failure.transient : true, firstFailureAt: entry.firstFailureAt ? new Date(entry.firstFailureAt) : null, now, interval: ctx.globals.outbound_retry_interval, lifetime: ctx.globals.outbound_retry_lifetime });
  if (next.status === 'deferred') {
    queue.setStatus(entry.id, 'deferred', { nextAttemptAt: next.nextAttemptAt, firstFailureAt: next.firstFailureAt, lastError: said });
    result.deferred++;
  } else if (next.status === 'abandoned') {
    queue.setStatus(entry.id, 'abandoned', { firstFailureAt: next.firstFailureAt, lastError: `abandoned after ${ctx.globals.outbound_retry_lifetime / 86_400_000} days of failures; last: ${said}` });
    result.abandoned++;
  } else {
    queue.setStatus(entry.id, 'failed', { lastError: said });
    result.failed++;
  }
  ctx.log.warn({ queueId: entry.id, status: next.status, error: said }, 'outbound attempt failed');
}

async function sendOne(ctx: OutboundCycleContext, queue: QueueRepo, entry: QueueEntry, session: SmtpSession, now: Date): Promise<void> {
  const redirect = ctx.kb.environment !== 'production' && ctx.globals.nonproduction_redirect ? ctx.globals.nonproduction_redirect : undefined;
  const to = redirect ? [redirect] : entry.to;
  const message = await composeMessage(
    {
      from: entry.from,
      to,
      subject: entry.subject,
      text: entry.body,
      attachments: entry.attachments.map((a) => ({ filename: a.filename, content: Buffer.from(a.content, 'base64'), ...(a.contentType ? { contentType: a.contentType } : {}) })),
      ...(redirect ? { headers: { 'X-Mailctl-Original-To': entry.to.join(', ') } } : {}),
    },
    { kb: ctx.kb.name, serverUrl: ctx.kb.url, table: entry.table, recordId: entry.recordId, origin: entry.ruleId ? `rule:${entry.ruleId}` : null, sentAt: now },
    ctx.key,
  );
  const sent = await session.send({ from: entry.from, to, raw: message.raw });
  // One commit for the three facts of a sent message.
  ctx.db.transaction(() => {
    queue.recordAttempt(entry.id, 'sent', sent.response ?? null);
    queue.setMessageId(entry.id, message.messageId);
    queue.setStatus(entry.id, 'sent', { lastError: null });
  })();
}
