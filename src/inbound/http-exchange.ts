import { Readable } from 'node:stream';

/** Why an exchange was stopped by us (not by the network). */
export type StopReason = 'idle' | 'deadline' | 'too-large' | 'closed';

/**
 * One HTTP request and its answer, under two clocks: each wait on the server (for the answer's
 * head, then for each next piece of its body) may take at most `idleMs`, so a slow transfer
 * that keeps sending is never cut by it; and the whole exchange has a deadline, so a server
 * that sends one byte just inside every idle limit cannot hold it forever. `signal` goes to
 * fetch; stopping aborts the request, and its socket with it.
 */
export class HttpExchange {
  readonly #controller = new AbortController();
  readonly #idleMs: number;
  readonly #startedAt = Date.now();
  #deadlineTimer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #stopped: StopReason | null = null;
  #deadlineMs: number;
  #onEnd: (() => void) | undefined;

  /** `onEnd`: called once when the exchange ends (finished or stopped). */
  constructor(options: { idleMs: number; deadlineMs: number; onEnd?: () => void }) {
    this.#idleMs = options.idleMs;
    this.#onEnd = options.onEnd;
    this.#deadlineMs = options.deadlineMs;
    this.#deadlineTimer = setTimeout(() => this.stop('deadline'), options.deadlineMs);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** What stopped the exchange, when we did; null while it runs or when the network failed. */
  get stopped(): StopReason | null {
    return this.#stopped;
  }

  /** The deadline in force, in ms from the start. */
  get deadlineMs(): number {
    return this.#deadlineMs;
  }

  get elapsedMs(): number {
    return Date.now() - this.#startedAt;
  }

  /** Moves the deadline (ms from the start), e.g. once the answer declares its length. */
  setDeadline(ms: number): void {
    if (this.#stopped) return;
    this.#deadlineMs = ms;
    clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = setTimeout(() => this.stop('deadline'), Math.max(0, ms - this.elapsedMs));
  }

  /** Waits on the server: the idle limit runs only while this promise is pending. */
  async wait<T>(work: Promise<T>): Promise<T> {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => this.stop('idle'), this.#idleMs);
    try {
      return await work;
    } finally {
      clearTimeout(this.#idleTimer);
    }
  }

  /** Stops the exchange: the request is aborted and every wait on it fails. */
  stop(reason: StopReason): void {
    if (this.#stopped) return;
    this.#stopped = reason;
    this.finish();
    this.#controller.abort(new Error(`stopped: ${reason}`));
  }

  /** The exchange ended: its clocks stop. */
  finish(): void {
    clearTimeout(this.#deadlineTimer);
    clearTimeout(this.#idleTimer);
    const onEnd = this.#onEnd;
    this.#onEnd = undefined;
    onEnd?.();
  }
}

/**
 * Reads a body whole, but never more than `maxBytes`: past it the exchange is stopped and
 * `onTooLarge` says what to throw (or, with `truncate`, what came so far is returned — for an
 * error answer, whose first bytes are all we show). Each read waits at most the idle limit.
 */
export async function readBoundedBody(response: Response, exchange: HttpExchange, maxBytes: number, options: { truncate?: boolean; onTooLarge?: (received: number) => Error } = {}): Promise<Buffer> {
  if (!response.body) return Buffer.alloc(0);
  const reader = response.body.getReader();
  const chunks: Buffer[] = [];
  let received = 0;
  try {
    for (;;) {
      const { done, value } = await exchange.wait(reader.read());
      if (done) break;
      if (received + value.byteLength > maxBytes) {
        if (options.truncate) {
          chunks.push(Buffer.from(value.buffer, value.byteOffset, maxBytes - received));
          received = maxBytes;
          exchange.stop('too-large');
          break;
        }
        exchange.stop('too-large');
        throw options.onTooLarge?.(received + value.byteLength) ?? new Error(`the answer is larger than ${maxBytes} bytes`);
      }
      chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      received += value.byteLength;
    }
  } finally {
    reader.releaseLock();
    exchange.finish();
  }
  return Buffer.concat(chunks, received);
}

/**
 * The body as a Node stream that holds at most one piece (and the stream's 64 KB buffer) at a
 * time. The server is read only when the consumer asks for more, so the idle limit measures
 * the server, never a slow consumer. A failure (the network, the idle limit, the deadline)
 * destroys the stream with `failure(error)`.
 */
export function boundedBodyStream(response: Response, exchange: HttpExchange, failure: (error: unknown) => Error): Readable {
  const reader = response.body!.getReader();
  let reading = false;
  let ended = false;
  return new Readable({
    highWaterMark: 64 * 1024,
    read() {
      if (reading) return;
      reading = true;
      exchange.wait(reader.read()).then(
        ({ done, value }) => {
          reading = false;
          if (done) {
            ended = true;
            exchange.finish();
            this.push(null);
          } else {
            this.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
          }
        },
        (error: unknown) => {
          reading = false;
          exchange.finish();
          this.destroy(failure(error));
        },
      );
    },
    destroy(error, callback) {
      // Abandoned by the consumer, or failed: the request ends here, its socket is not reused half-read.
      if (!ended) {
        if (!exchange.stopped) exchange.stop('closed');
        reader.cancel().catch(() => undefined);
      }
      callback(error);
    },
  });
}
