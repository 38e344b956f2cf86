import { defaultMaxConnections, type OutboundConfig } from './outbound-config.js';
import { throttleGraceMs, throttleRetryDelay } from './retry-policy.js';

/** Time as the pacer sees it (ms), and a wait: real by default, a test passes its own. */
export interface PacerTimer {
  now(): number;
  /** Resolves after `ms`, or at once when `signal` is aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realTimer: PacerTimer = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
    }),
};

export interface PacerSettings {
  /** Connections at once, at most (the admin's setting). */
  maxConnections: number;
  /** Messages started in any 60 s, at most; undefined: no limit. */
  maxPerMinute?: number | undefined;
}

/** What the pacer decided about a throttled message. */
export interface ThrottleVerdict {
  /** Connections allowed from now on. */
  concurrency: number;
  /** Wait this long (ms) before trying the message again. */
  retryInMs: number;
  /** Throttled for longer than `throttleGraceMs`: count it as an ordinary failure instead. */
  giveUp: boolean;
}

/** Accepted messages in a row before one more connection is tried. */
const riseAfterSuccesses = 20;
/** And at least this long (ms) since the server last throttled. */
const riseAfterMs = 60_000;
const minuteMs = 60_000;

/**
 * How fast the queue may send to one server; the state outlives a cycle (the daemon keeps one
 * per outbound server and replaces it when the server's settings change: `pacerFor`).
 *
 * Concurrency: at most `maxConnections` sessions; a throttling answer (isThrottleReply) lowers it
 * to the sessions still open (at least 1), and after a run of accepted messages it rises by one
 * again, up to the setting — additive increase, like Postfix's destination concurrency feedback.
 * Rate: with `maxPerMinute`, no more than that many messages start in any 60 s window; the
 * others wait their turn (`turn`, `startsAvailable`), they never fail for it.
 */
export class OutboundPacer {
  readonly settings: Readonly<PacerSettings>;
  readonly timer: PacerTimer;
  private limit: number;
  private open = 0;
  /** Start times (ms) of the messages started within the last minute, oldest first. */
  private starts: number[] = [];
  private successesInARow = 0;
  private throttlesInARow = 0;
  private lastThrottleAt = Number.NEGATIVE_INFINITY;
  /** No message starts before this (ms): the server throttled, it gets a moment. */
  private pausedUntil = Number.NEGATIVE_INFINITY;
  /** Queue id → when the server first throttled it (ms), until it is sent or failed. */
  private throttledSince = new Map<number, number>();

  /** Which server this pacer is for (`pacerFor` compares it). */
  readonly server: string;

  constructor(settings: PacerSettings, timer: PacerTimer = realTimer, server = '') {
    this.server = server;
    this.settings = { maxConnections: Math.max(1, Math.floor(settings.maxConnections)), ...(settings.maxPerMinute ? { maxPerMinute: settings.maxPerMinute } : {}) };
    this.timer = timer;
    this.limit = this.settings.maxConnections;
  }

  /** Connections allowed now (lowered by throttling, at most the setting). */
  get concurrency(): number {
    return this.limit;
  }

  /** Sessions open or being opened now. */
  get sessions(): number {
    return this.open;
  }

  now(): number {
    return this.timer.now();
  }

  /** Counts a session about to be opened; false (nothing counted) when `concurrency` are open already. */
  tryOpen(): boolean {
    if (this.open >= this.limit) return false;
    this.open++;
    return true;
  }

  /** A session counted by `tryOpen` was closed (or failed to open). */
  closed(): void {
    this.open = Math.max(0, this.open - 1);
  }

  /** More sessions are open than now allowed: one of them should close after its message. */
  get overLimit(): boolean {
    return this.open > this.limit;
  }

  /** A message was accepted: after a run of them, one more connection is allowed (up to the setting). */
  sent(queueId: number): void {
    this.throttledSince.delete(queueId);
    this.throttlesInARow = 0;
    this.successesInARow++;
    if (this.limit < this.settings.maxConnections && this.successesInARow >= riseAfterSuccesses && this.now() - this.lastThrottleAt >= riseAfterMs) {
      this.limit++;
      this.successesInARow = 0;
    }
  }

  /** A message failed for another reason (its throttling history ends with it). */
  settled(queueId: number): void {
    this.throttledSince.delete(queueId);
  }

  /**
   * The server throttled message `queueId` (its session already closed): concurrency drops to the
   * sessions still open (the ones the server accepted), at least 1, and no message starts for
   * `throttleRetryDelay` — longer with each throttle in a row. Answers to connections opened
   * before that pause (a burst refused together) share it instead of lengthening it.
   */
  throttled(queueId: number): ThrottleVerdict {
    const now = this.now();
    this.limit = Math.max(1, Math.min(this.limit, this.open));
    this.successesInARow = 0;
    if (now >= this.pausedUntil) {
      this.throttlesInARow++;
      this.pausedUntil = now + throttleRetryDelay(this.throttlesInARow);
    }
    this.lastThrottleAt = now;
    for (const [id, since] of this.throttledSince) if (now - since > 24 * 3600_000) this.throttledSince.delete(id);
    const since = this.throttledSince.get(queueId) ?? now;
    this.throttledSince.set(queueId, since);
    const giveUp = now - since >= throttleGraceMs;
    if (giveUp) this.throttledSince.delete(queueId);
    return { concurrency: this.limit, retryInMs: this.pausedUntil - now, giveUp };
  }

  /** Messages that may start now: 0 while paused by throttling, else what `maxPerMinute` leaves (Infinity without a limit). */
  startsAvailable(): number {
    if (this.now() < this.pausedUntil) return 0;
    const max = this.settings.maxPerMinute;
    if (!max) return Number.POSITIVE_INFINITY;
    this.forgetOldStarts();
    return Math.max(0, max - this.starts.length);
  }

  /** Milliseconds until a message may start (0: now): a throttling pause, or the per-minute window. */
  nextStartInMs(): number {
    const paused = Math.max(0, this.pausedUntil - this.now());
    const max = this.settings.maxPerMinute;
    if (!max) return paused;
    this.forgetOldStarts();
    if (this.starts.length < max) return paused;
    return Math.max(paused, this.starts[this.starts.length - max]! + minuteMs - this.now());
  }

  /**
   * Waits until a message may start (a throttling pause over, `maxPerMinute` not passed), then counts it. Returns false (nothing
   * counted) when `halted` says stop first; it is asked at least every `pollMs`.
   */
  async turn(halted: () => boolean, signal?: AbortSignal, pollMs = 500): Promise<boolean> {
    for (;;) {
      if (halted()) return false;
      const wait = this.nextStartInMs();
      if (wait === 0) {
        if (this.settings.maxPerMinute) this.starts.push(this.now());
        return true;
      }
      await this.timer.sleep(Math.min(wait, pollMs), signal);
    }
  }

  private forgetOldStarts(): void {
    const now = this.now();
    while (this.starts.length > 0 && this.starts[0]! <= now - minuteMs) this.starts.shift();
  }
}

/** The pacing settings of an outbound server (defaults filled in). */
export function pacerSettingsOf(outbound: Pick<OutboundConfig, 'maxConnections' | 'maxPerMinute'> | undefined): PacerSettings {
  return { maxConnections: outbound?.maxConnections ?? defaultMaxConnections, maxPerMinute: outbound?.maxPerMinute };
}

/**
 * The pacer for the configured outbound server: `previous` while the server (host, port, login)
 * and its pacing settings are unchanged — it keeps what it learned — else a new one. The daemon
 * calls this before each outbound cycle.
 */
export function pacerFor(outbound: Partial<OutboundConfig> | undefined, previous?: OutboundPacer): OutboundPacer {
  const settings = pacerSettingsOf(outbound);
  const login = outbound?.auth && outbound.auth.type !== 'none' ? outbound.auth.username : '';
  const server = JSON.stringify([outbound?.host, outbound?.port, login]);
  if (previous && previous.server === server && previous.settings.maxConnections === settings.maxConnections && previous.settings.maxPerMinute === settings.maxPerMinute) return previous;
  return new OutboundPacer(settings, realTimer, server);
}
