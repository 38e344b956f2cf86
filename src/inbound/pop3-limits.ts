import { ReplyTimer } from './reply-timer.js';

/**
 * What a POP3 server can make mailctl wait for or hold (README, "POP3 limits"). `--timeout`
 * bounds each wait for the server's next bytes and every one-line reply; the figures here
 * bound the long replies — listings (UIDL, LIST) and messages (RETR) — so that a server that
 * trickles, or never ends its answer, costs a bounded time and memory.
 */
export const pop3Limits = {
  /** Messages one UIDL or LIST answer may list. */
  maxListed: 100_000,
  /** Bytes of one UIDL or LIST answer (100,000 entries of a 70-character UIDL take ~8 MB). */
  maxListingBytes: 8 * 1024 * 1024,
  /** A listing line, CRLF not counted (RFC 2449 §4: a response is at most 512 octets with its CRLF). */
  maxListingLine: 510,
  /**
   * A message may be this many times its listed size, plus `messageSlackBytes`: servers such as
   * Exchange list approximate sizes. Past that the server is sending something else: cut.
   */
  messageSizeFactor: 2,
  messageSlackBytes: 1024 * 1024,
  /** ...and never more than this, whatever the listing says (a hostile server lists 10^15 bytes). */
  maxMessageBytes: 1024 * 1024 * 1024,
  /** The whole of a long reply arrives at least this fast on average over its allowance (bytes/s: 32 KB/s). */
  minAverageRate: 32 * 1024,
  /** ...and keeps coming at this much per second, over each `--timeout` spent waiting (bytes/s: 2 KB/s). */
  minPaceRate: 2 * 1024,
} as const;

/** The most bytes a message listed at `listedSize` may take on the wire (a listed size that is no number counts as 0). */
export function messageAllowance(listedSize: number): number {
  const listed = Number.isFinite(listedSize) && listedSize > 0 ? listedSize : 0;
  return Math.min(pop3Limits.messageSizeFactor * listed + pop3Limits.messageSlackBytes, pop3Limits.maxMessageBytes);
}

/**
 * The limits of a long reply of at most `allowanceBytes`, sent now: each wait within `timeoutMs`,
 * the whole within `timeoutMs` + the allowance at `minAverageRate`, and `minPaceRate` in every
 * `timeoutMs` of waiting. A 25 MB message: `--timeout` + 27 min; a listing: `--timeout` + 256 s.
 */
export function longReplyTimer(what: string, timeoutMs: number, allowanceBytes: number, now = Date.now()): ReplyTimer {
  return new ReplyTimer({
    what,
    idleMs: timeoutMs,
    deadlineAt: now + timeoutMs + Math.ceil((allowanceBytes * 1000) / pop3Limits.minAverageRate),
    paceBytes: Math.ceil((pop3Limits.minPaceRate * timeoutMs) / 1000),
  }, now);
}
