import { Readable } from 'node:stream';
import { commitReserved } from '../store/store-reservations.js';
import { OAuthFailure } from '../auth/oauth-failure.js';
import type { Clock } from '../clock.js';
import type { KbConfig } from '../config/config-schema.js';
import type { GlobalValues } from '../config/globals.js';
import type { Logger } from '../logger.js';
import { automaticHeaders, isAutomaticRule } from '../outbound/automatic-messages.js';
import { composeStreamedMessage } from '../outbound/compose-message.js';
import type { OutboundConfig } from '../outbound/outbound-config.js';
import { OutboundPacer, pacerSettingsOf } from '../outbound/outbound-pacer.js';
import { afterFailure } from '../outbound/retry-policy.js';
import { SmtpFailure } from '../outbound/smtp-failure.js';
import { openSmtpSession, type SmtpSession, type SmtpTarget } from '../outbound/smtp-session.js';
import type { Database } from '../store/database.js';
import { StoredContentCorrupt, StoredContentMissing, type MessageStore } from '../store/message-store.js';
import { moveLegacyQueueAttachments } from '../store/move-legacy-attachments.js';
import { CommunicationsRepo } from '../store/communications-repo.js';
import { parseHeaderBlock } from '../mime/header-block.js';
import { QueueRepo, type QueueEntry } from '../store/queue-repo.js';
import type { DaemonMetrics } from './daemon-metrics.js';

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
  /** Connections at most, instead of the server's `maxConnections` (default 3); used only without `pacer`. */
  connections?: number;
  /**
   * The outbound server's pacing — connections allowed now (lowered while it throttles), messages
   * per minute — kept across cycles by the daemon (`pacerFor`). Without one, a new one from
   * `outbound`'s settings serves this cycle only.
   */
  pacer?: OutboundPacer;
  /** A stop request (SIGTERM, the kill switch): the message in hand is finished, no new one is taken. */
  stop?: () => boolean;
  /**
   * Aborted when the stop's grace is over: the connections are dropped; a message being sent
   * goes back to the queue (it may have been delivered: SMTP cannot tell, so it can arrive twice).
   */
  signal?: AbortSignal;
  /** The daemon's metrics: told the outcome of each attempt. */
  metrics?: DaemonMetrics | undefined;
}

export interface OutboundCycleResult {
  claimed: number;
  sent: number;
  deferred: number;
  failed: number;
  abandoned: number;
  held: number;
  /** Throttling answers met ("too many connections", "server busy"): each message tried again, none counted as failed. */
  throttled: number;
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
  const result: OutboundCycleResult = { claimed: 0, sent: 0, deferred: 0, failed: 0, abandoned: 0, held: 0, throttled: 0 };
  // Queue entries from before the message store carry their attachments' bytes: moved into the
  // store first (once; later cycles pay one indexed read).
  try {
    const { moved } = await moveLegacyQueueAttachments(ctx.db, ctx.store, ctx.clock);
    if (moved > 0) ctx.log.info({ moved }, 'attachments of queued messages moved into the message store');
  } catch (error) {
    ctx.log.error({ error: (error as Error).message }, 'moving the attachments of older queued messages into the message store failed; tried again next cycle');
  }
  if (ctx.stop?.()) return result;
  const pacer = ctx.pacer ?? new OutboundPacer({ ...pacerSettingsOf(ctx.outbound), ...(ctx.connections ? { maxConnections: ctx.connections } : {}) });
  // Under a messages-per-minute limit only what may start now is claimed: the rest stays queued
  // (waiting, not failing) for a later cycle instead of being held "sending" through the wait.
  const room = pacer.startsAvailable();
  if (room === 0) return result;
  const due = queue.claimDue(ctx.clock.now(), Math.min(ctx.batch ?? 100, room));
  result.claimed = due.length;
  if (due.length === 0) return result;
  // A few connections (as many as the pacer allows now), each sending its share of the batch in
  // turn (like nodemailer's pool); a connection a failure left unusable is opened again for the
  // next message. The messages are stored a few at a time while the connections send those stored
  // before: storing the whole batch first left every connection idle through its fsyncs.
  const block = nonProductionBlock(ctx.kb, ctx.globals);
  // A server that let a deadline pass (a reply trickled, a transfer too slow) is not tried again
  // this cycle: the rest of the batch waits for the next retry without an attempt, so one slow
  // server costs one --timeout per connection, not one per message (Postfix's "delivery
  // temporarily suspended").
  let suspended: string | undefined;
  const halted = () => Boolean(ctx.stop?.() || ctx.signal?.aborted);
  const prepared = new Map<number, Prepared>();
  const work: QueueEntry[] = [];
  /** Queue id → when (pacer time, ms) a throttled message may be tried again. */
  const retryAt = new Map<number, number>();
  let producing = true;
  const waiting: Array<() => void> = [];
  const wake = () => {
    for (const resolve of waiting.splice(0)) resolve();
  };
  /**
   * Waits for a change (work added, a connection closed), or until pacer time `until` (a throttled
   * message's turn) — at most `pollMs` either way, so the stop flag is asked that often.
   */
  const idle = (until?: number) =>
    new Promise<void>((resolve) => {
      const quiet = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        quiet.abort();
        clearTimeout(timer);
        const at = waiting.indexOf(done);
        if (at >= 0) waiting.splice(at, 1);
        resolve();
      };
      waiting.push(done);
      if (until === undefined) timer = setTimeout(done, pollMs);
      else void pacer.timer.sleep(Math.max(0, Math.min(until - pacer.now(), pollMs)), quiet.signal).then(done);
    });
  const producer = (async () => {
    try {
      if (block) {
        work.push(...due);
        return;
      }
      for (let i = 0; i < due.length; i += storeGroup) {
        const group = due.slice(i, i + storeGroup);
        if (halted() || suspended) {
          work.push(...group); // not stored: put back (stopping) or postponed (suspended) by the workers
          continue;
        }
        const ready = await storeFirstAttempts(ctx, queue, group, result);
        for (const entry of group) {
          const message = ready.get(entry.id);
          if (!message) continue;
          prepared.set(entry.id, message);
          work.push(entry);
        }
        wake();
      }
    } finally {
      producing = false;
      wake();
    }
  })();
  /** The next message whose time has come (a throttled one waits out its delay); any, when stopping. */
  const next = async (): Promise<QueueEntry | undefined> => {
    for (;;) {
      const now = pacer.now();
      const at = halted() ? (work.length > 0 ? 0 : -1) : work.findIndex((e) => (retryAt.get(e.id) ?? 0) <= now);
      if (at >= 0) return work.splice(at, 1)[0];
      if (work.length === 0 && !producing) return undefined;
      // Only throttled messages wait (or none yet: the first are being stored).
      const soonest = work.reduce((min, e) => Math.min(min, retryAt.get(e.id) ?? now), Number.POSITIVE_INFINITY);
      await idle(Number.isFinite(soonest) ? soonest : undefined);
    }
  };
  const worker = async () => {
    let session: SmtpSession | undefined;
    // A connection slot counted by the pacer: held from before the session opens until it closes.
    let slot = false;
    const release = () => {
      session?.close();
      session = undefined;
      if (slot) {
        slot = false;
        pacer.closed();
        wake();
      }
    };
    try {
      for (let entry = await next(); entry; entry = await next()) {
        if (block) {
          queue.setStatus(entry.id, 'held', { lastError: block });
          result.held++;
          ctx.metrics?.sendAttempt('held');
          continue;
        }
        if (halted()) {
          // Stopping: what was claimed and not started goes back as it was.
          queue.unclaim(entry);
          continue;
        }
        if (suspended) {
          recordFailure(ctx, queue, entry, new Error(`not tried: ${suspended}`), ctx.clock.now(), result, { tried: false });
          continue;
        }
        if (!slot) {
          if (!pacer.tryOpen()) {
            // As many connections as the server takes now are open: this message waits for one.
            work.unshift(entry);
            await idle();
            continue;
          }
          slot = true;
        }
        // The server paused us (throttling) or the minute's messages are spent: a short wait is
        // waited here; for a long one the message goes back to the queue rather than being held
        // "sending" (a kept pacer claims nothing more until then).
        if (pacer.nextStartInMs() > inCycleRetryMs) {
          queue.unclaim(entry);
          prepared.delete(entry.id);
          continue;
        }
        if (!(await pacer.turn(halted, ctx.signal))) {
          queue.unclaim(entry);
          continue;
        }
        const now = ctx.clock.now();
        try {
          const message = prepared.get(entry.id);
          if (!message) throw new Error('the message was not stored before sending');
          session ??= await openSmtpSession(await ctx.target(), ctx.signal ? { signal: ctx.signal } : {});
          await sendOne(ctx, queue, entry, session, message);
          prepared.delete(entry.id);
          pacer.sent(entry.id);
          result.sent++;
          ctx.metrics?.sendAttempt('sent');
          // The server throttled another connection meanwhile: this one gives way.
          if (pacer.overLimit) release();
        } catch (error) {
          release();
          if (ctx.signal?.aborted) {
            prepared.delete(entry.id);
            queue.requeueInterrupted(entry.id, interruptedReason);
            ctx.log.warn({ queueId: entry.id }, 'outbound message interrupted by the daemon stopping; queued again (it may have been delivered, and can arrive twice)');
            continue;
          }
          if (error instanceof SmtpFailure && error.throttled) {
            const verdict = pacer.throttled(entry.id);
            if (!verdict.giveUp) {
              result.throttled++;
              ctx.metrics?.sendAttempt('throttled');
              const said = error.response ?? error.message;
              ctx.log.warn({ queueId: entry.id, connections: verdict.concurrency, retryInMs: verdict.retryInMs, error: said }, 'the outbound server is throttling: fewer connections; the message is tried again shortly (not a failure)');
              if (verdict.retryInMs <= inCycleRetryMs) {
                retryAt.set(entry.id, pacer.now() + verdict.retryInMs);
                work.push(entry);
                wake();
              } else {
                prepared.delete(entry.id);
                postponeThrottled(ctx, queue, entry, verdict.retryInMs, said);
              }
              continue;
            }
            // Throttled for longer than throttleGraceMs: an outage, recorded like any failure.
          }
          pacer.settled(entry.id);
          prepared.delete(entry.id);
          if (error instanceof SmtpFailure && error.kind === 'ETIMEDOUT') suspended ??= `the server let a deadline pass on an earlier message this cycle (${error.message})`;
          recordFailure(ctx, queue, entry, error, now, result);
        }
      }
    } finally {
      release();
    }
  };
  await Promise.all([producer, ...Array.from({ length: Math.min(pacer.concurrency, due.length) }, worker)]);
  return result;
}

/** How often a waiting connection asks the stop flag (ms). */
const pollMs = 500;

/** A throttled message whose wait is longer than this (ms) goes back to the queue, due then, instead of holding the cycle. */
const inCycleRetryMs = 15_000;

/**
 * A throttled message that waits for a later cycle: back to the queue as it was (queued, or
 * deferred after an earlier failure), due in `delayMs`, with the server's words. No attempt is
 * recorded and its first failure is not set: throttling does not bring it nearer abandonment.
 */
function postponeThrottled(ctx: OutboundCycleContext, queue: QueueRepo, entry: QueueEntry, delayMs: number, said: string): void {
  queue.setStatus(entry.id, entry.firstFailureAt ? 'deferred' : 'queued', {
    nextAttemptAt: new Date(ctx.clock.now().getTime() + delayMs),
    lastError: `throttled by the server; tried again in ${Math.ceil(delayMs / 1000)} s (not counted as a failure): ${said}`,
  });
}


/** What a message interrupted while being sent records (it goes back to the queue). */
export const interruptedReason = 'interrupted while being sent (the daemon stopped); queued again: it may have reached the server already, so it can arrive twice';

/** Messages stored (built, fsynced, linked) at a time while the connections send the ones before. */
const storeGroup = 25;

/** A message ready to send: its bytes in the store, and in memory when small. */
interface Prepared {
  hash: string;
  /** Bytes. */
  size: number;
  raw?: Buffer;
}

/** Messages up to this size stay in memory between being stored and being sent in the same cycle. */
const keepInMemoryBytes = 1024 * 1024;

/**
 * Each message's exact bytes are built and stored at its first attempt (with the reference and
 * the Message-ID), durably and before it is sent, and linked to its communication; a retry sends
 * those same bytes. A message that cannot be built (an attachment gone from the store) fails for
 * good; a store that cannot take it (disk full) defers it like any transient failure.
 */
async function storeFirstAttempts(ctx: OutboundCycleContext, queue: QueueRepo, due: QueueEntry[], result: OutboundCycleResult): Promise<Map<number, Prepared>> {
  const comms = new CommunicationsRepo(ctx.db, ctx.clock);
  const prepared = new Map<number, Prepared>();
  const fresh: Array<{ entry: QueueEntry; hash: string; size: number; messageId: string; headers: string }> = [];
  const batch = ctx.store.batch();
  const now = ctx.clock.now();
  for (const entry of due) {
    const communication = entry.communicationId !== null ? comms.get(entry.communicationId) : undefined;
    if (communication?.rawHash) {
      prepared.set(entry.id, { hash: communication.rawHash, size: communication.size ?? 0 });
      continue;
    }
    try {
      // Built as a stream into the store: a message with large attachments is never whole in
      // memory; a small one is kept to be sent from memory.
      const message = composeEntry(ctx, entry, now);
      const small = keepWhileSmall(message.content, keepInMemoryBytes);
      const blob = await batch.put(small.content);
      const raw = small.kept();
      prepared.set(entry.id, { hash: blob.hash, size: blob.size, ...(raw ? { raw } : {}) });
      fresh.push({ entry, hash: blob.hash, size: blob.size, messageId: message.messageId, headers: message.headers });
    } catch (error) {
      if (!(error instanceof StoredContentMissing || error instanceof StoredContentCorrupt)) {
        recordFailure(ctx, queue, entry, error, now, result); // disk full, I/O: tried again later
        continue;
      }
      const said = `the message could not be built: ${(error as Error).message}`;
      queue.recordAttempt(entry.id, 'failed before sending', said);
      queue.setStatus(entry.id, 'failed', { lastError: said });
      result.failed++;
      ctx.metrics?.sendAttempt('failed');
      ctx.log.warn({ queueId: entry.id, error: said }, 'outbound message could not be built');
    }
  }
  let release: () => void;
  try {
    ({ release } = await commitReserved(ctx.db, batch));
  } catch (error) {
    for (const { entry } of fresh) {
      prepared.delete(entry.id);
      recordFailure(ctx, queue, entry, error, now, result);
    }
    return prepared;
  }
  try {
    ctx.db.transaction(() => {
      for (const f of fresh) {
        if (f.entry.communicationId === null) continue;
        // Kept like an inbound message's: the header block as sent, the Date, the text.
        comms.setRaw(f.entry.communicationId, f.hash, f.size, f.messageId, parseHeaderBlock(f.headers).get('date') ?? null);
        if (!comms.content(f.entry.communicationId)) comms.insertContent(f.entry.communicationId, { headers: f.headers, text: f.entry.body, html: null, truncated: false });
      }
    })();
  } finally {
    release();
  }
  return prepared;
}

/**
 * Passes `content` through, keeping a copy while it stays within `limit` bytes: `kept()` (once
 * the content was read) gives the whole of a small message, and nothing for a larger one.
 */
function keepWhileSmall(content: AsyncIterable<Buffer>, limit: number): { content: AsyncIterable<Buffer>; kept: () => Buffer | undefined } {
  let chunks: Buffer[] | undefined = [];
  let bytes = 0;
  return {
    content: (async function* () {
      for await (const chunk of content) {
        if (chunks) {
          bytes += chunk.length;
          if (bytes > limit) chunks = undefined;
          else chunks.push(chunk);
        }
        yield chunk;
      }
    })(),
    kept: () => (chunks ? Buffer.concat(chunks) : undefined),
  };
}

/**
 * The message as it goes out: the reference stamped in, redirected in a test KB, attachments
 * streamed from the store when their turn comes. An entry whose attachment bytes are still
 * inline (queued before the message store, not moved yet) is built from them.
 */
function composeEntry(ctx: OutboundCycleContext, entry: QueueEntry, now: Date) {
  const redirect = redirectOf(ctx);
  const attachments = entry.attachments.map((a) => ({
    filename: a.filename,
    open: async (): Promise<AsyncIterable<Buffer>> => (a.sha256 ? await ctx.store.open(a.sha256) : Readable.from([Buffer.from(a.content ?? '', 'base64')])),
    ...(a.contentType ? { contentType: a.contentType } : {}),
  }));
  // An automatic message (a reject notice) says so, decided by its reserved rule id when it is
  // built: a notice queued before this rule existed gets the headers too.
  const headers = {
    ...(isAutomaticRule(entry.ruleId) ? automaticHeaders(entry.from) : {}),
    ...(redirect ? { 'X-Mailctl-Original-To': entry.to.join(', ') } : {}),
  };
  return composeStreamedMessage(
    {
      from: entry.from,
      to: redirect ? [redirect] : entry.to,
      subject: entry.subject,
      text: entry.body,
      attachments,
      headers,
    },
    { kb: ctx.kb.name, serverUrl: ctx.kb.url, table: entry.table, recordId: entry.recordId, origin: entry.ruleId ? `rule:${entry.ruleId}` : null, sentAt: now },
    ctx.key,
  );
}

/** In a test/dev KB with nonproduction_redirect set, every message goes to that address instead. */
function redirectOf(ctx: OutboundCycleContext): string | undefined {
  return ctx.kb.environment !== 'production' && ctx.globals.nonproduction_redirect ? ctx.globals.nonproduction_redirect : undefined;
}

/**
 * A failed attempt: deferred, abandoned or failed by the retry policy, with the server's words.
 * `tried: false` for a message not even tried (its server was suspended this cycle): deferred
 * like a transient failure, without an attempt on record.
 */
function recordFailure(ctx: OutboundCycleContext, queue: QueueRepo, entry: QueueEntry, error: unknown, now: Date, result: OutboundCycleResult, options: { tried?: boolean } = {}): void {
  const failure = error instanceof SmtpFailure ? error : undefined;
  const said = failure ? (failure.response ?? failure.message) : error instanceof OAuthFailure ? `Getting an OAuth token failed: ${error.message}` : (error as Error).message;
  if (options.tried !== false) queue.recordAttempt(entry.id, failure ? `failed during ${failure.phase}` : 'failed', said);
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
  if (options.tried !== false) ctx.metrics?.sendAttempt(next.status);
  ctx.log.warn({ queueId: entry.id, status: next.status, error: said }, 'outbound attempt failed');
}

/**
 * Sends one stored message: from memory when small, else streamed from the store (verified as
 * it goes; stored content found corrupt or missing fails the attempt with that error).
 */
async function sendOne(ctx: OutboundCycleContext, queue: QueueRepo, entry: QueueEntry, session: SmtpSession, message: Prepared): Promise<void> {
  const redirect = redirectOf(ctx);
  let readError: unknown;
  let raw: Buffer | Readable;
  if (message.raw) raw = message.raw;
  else {
    raw = await ctx.store.open(message.hash);
    raw.once('error', (error) => (readError = error));
  }
  let sent: Awaited<ReturnType<SmtpSession['send']>>;
  try {
    sent = await session.send({ from: entry.from, to: redirect ? [redirect] : entry.to, raw, size: message.size });
  } catch (error) {
    if (!Buffer.isBuffer(raw)) raw.destroy();
    throw readError ?? error;
  }
  // One commit for the facts of a sent message.
  ctx.db.transaction(() => {
    queue.recordAttempt(entry.id, 'sent', sent.response ?? null);
    queue.setStatus(entry.id, 'sent', { lastError: null });
  })();
}
