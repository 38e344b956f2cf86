/**
 * The time a server's reply may take, told apart from the time our own reader takes.
 *
 * An idle timeout alone lets a server hold a connection for ever by sending a byte just
 * before each timeout (a RETR trickled one line every 4 s kept `daemon --once --timeout 5s`
 * for minutes). So a reply has three limits:
 * - every wait for the next bytes lasts at most `idleMs` (`--timeout`);
 * - the whole reply is done by `deadlineAt` (wall clock), fixed when the command is sent;
 * - a long reply (a listing, a message) brings at least `paceBytes` in every `idleMs` spent
 *   waiting for it: a trickle ends after about one `--timeout`, whatever size it announced.
 * Only the time spent waiting for the server counts towards the pace: while our reader is slow
 * (the socket paused for backpressure) the server is not to blame.
 */
export interface ReplyLimits {
  /** What is being waited for, for the error: "the answer to RETR 3", "the greeting". */
  what: string;
  idleMs: number;
  /** Epoch ms by which the whole reply must have arrived. */
  deadlineAt: number;
  /** Bytes due in every `idleMs` of waiting; 0 for a one-line reply (the deadline covers it). */
  paceBytes: number;
}

/** A reply that broke one of its limits; `code` is ETIMEDOUT, as for the socket's own timeouts. */
export class ReplyTimeout extends Error {
  readonly code = 'ETIMEDOUT';
  override readonly name = 'ReplyTimeout';
}

/** Tracks one reply against its limits (see ReplyLimits). */
export class ReplyTimer {
  readonly limits: ReplyLimits;
  #windowWaitedMs = 0;
  #windowBytes = 0;
  #bytes = 0;
  readonly #startedAt: number;

  constructor(limits: ReplyLimits, now = Date.now()) {
    this.limits = limits;
    this.#startedAt = now;
  }

  /** A one-line reply: whole within `idleMs` of now. */
  static oneLine(what: string, idleMs: number, now = Date.now()): ReplyTimer {
    return new ReplyTimer({ what, idleMs, deadlineAt: now + idleMs, paceBytes: 0 }, now);
  }

  /** Bytes of the reply handed to the reader. */
  get bytes(): number {
    return this.#bytes;
  }

  received(bytes: number): void {
    this.#bytes += bytes;
    this.#windowBytes += bytes;
  }

  /**
   * How long the next wait may last, given that the current wait began `waitingMs` ago; or the
   * error when a limit is already broken.
   */
  nextWait(now: number, waitingMs: number): number | ReplyTimeout {
    const { what, idleMs, deadlineAt, paceBytes } = this.limits;
    if (waitingMs >= idleMs) return new ReplyTimeout(`no answer from the server within ${idleMs} ms while reading ${what}`);
    if (now >= deadlineAt) {
      return new ReplyTimeout(paceBytes === 0
        ? `no complete answer from the server within ${deadlineAt - this.#startedAt} ms while reading ${what}`
        : `${what} was not complete within its deadline of ${seconds(deadlineAt - this.#startedAt)} (${this.#bytes} bytes had come)`);
    }
    let left = Math.min(idleMs - waitingMs, deadlineAt - now);
    if (paceBytes > 0) {
      if (this.#windowWaitedMs >= idleMs) {
        if (this.#windowBytes < paceBytes) {
          return new ReplyTimeout(`the server is sending ${what} too slowly: ${this.#windowBytes} bytes in ${seconds(this.#windowWaitedMs)} of waiting, under the ${paceBytes} bytes due in every ${seconds(idleMs)} (--timeout)`);
        }
        this.#windowWaitedMs = 0;
        this.#windowBytes = 0;
      }
      left = Math.min(left, idleMs - this.#windowWaitedMs);
    }
    return Math.max(1, left);
  }

  /** Time spent in one wait. */
  waited(ms: number): void {
    this.#windowWaitedMs += ms;
  }
}

function seconds(ms: number): string {
  return ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`;
}
