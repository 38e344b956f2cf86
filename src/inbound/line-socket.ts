import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import { ReplyTimeout, ReplyTimer } from './reply-timer.js';

export interface LineSocketOptions {
  host: string;
  port: number;
  /** TLS from the first byte. */
  tls: boolean;
  tlsSkipVerify?: boolean | undefined;
  tlsCa?: string | undefined;
  timeoutMs: number;
}

/** Raised for socket-level problems, with the phase in which they happened. */
export class LineSocketError extends Error {
  constructor(message: string, readonly stage: 'connect' | 'tls' | 'read', readonly code: string | undefined) {
    super(message);
  }
}

/** Bytes read ahead of the reader before the socket is paused (backpressure). */
export const readAheadBytes = 256 * 1024;
/** The longest line `readLine` takes unless told otherwise (a greeting, a status or capability line). */
const defaultMaxLine = 64 * 1024;

export interface ReadOptions {
  /** The reply's limits; by default a one-line reply, whole within the socket's timeout. */
  timer?: ReplyTimer | undefined;
  /** The longest line accepted, CRLF not counted; a longer one fails with ELINETOOLONG. */
  maxBytes?: number | undefined;
}

/**
 * A line-oriented client socket (for the IMAP probe and POP3): connect or TLS-connect, read
 * CRLF lines or raw chunks within a reply's limits (ReplyTimer), upgrade to TLS in place.
 *
 * Backpressure: incoming chunks are queued (never copied together) up to `readAheadBytes`,
 * then the socket is paused until the reader takes some; so a message streams through at the
 * pace of whoever reads it. A reader waiting for the end of a line always gets more bytes
 * (a 1 MB line is read whole), up to the line's cap.
 */
export class LineSocket {
  #socket: Socket | TLSSocket;
  #chunks: Buffer[] = [];
  #queued = 0;
  #waiter: (() => void) | undefined;
  #error: LineSocketError | undefined;
  #ended = false;
  readonly #options: LineSocketOptions;

  private constructor(socket: Socket | TLSSocket, options: LineSocketOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#attach(socket);
  }

  static connect(options: LineSocketOptions): Promise<LineSocket> {
    return new Promise((resolve, reject) => {
      const tlsOptions = tlsOptionsFor(options);
      const socket = options.tls
        ? tlsConnect({ host: options.host, port: options.port, ...tlsOptions })
        : netConnect({ host: options.host, port: options.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new LineSocketError(`connecting to ${options.host}:${options.port} timed out after ${options.timeoutMs} ms`, 'connect', 'ETIMEDOUT'));
      }, options.timeoutMs);
      let tcpUp = false;
      socket.once('connect', () => (tcpUp = true));
      socket.once(options.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new LineSocket(socket, options));
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const stage = options.tls && tcpUp ? 'tls' : 'connect';
        reject(new LineSocketError(error.message, stage, error.code));
      });
    });
  }

  /** The timeout this socket was opened with (`--timeout`): each wait for the server's next bytes. */
  get timeoutMs(): number {
    return this.#options.timeoutMs;
  }

  get tlsInfo(): { protocol: string | null; authorized: boolean } | null {
    const socket = this.#socket as TLSSocket;
    return typeof socket.getProtocol === 'function' ? { protocol: socket.getProtocol(), authorized: socket.authorized } : null;
  }

  /** Upgrades the connection to TLS (after STARTTLS/STLS was accepted). */
  async startTls(): Promise<void> {
    const plain = this.#socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('error');
    plain.removeAllListeners('end');
    const options = this.#options;
    const secure = await new Promise<TLSSocket>((resolve, reject) => {
      const socket = tlsConnect({ socket: plain, ...tlsOptionsFor(options) });
      const timer = setTimeout(() => reject(new LineSocketError('the TLS handshake timed out', 'tls', 'ETIMEDOUT')), options.timeoutMs);
      socket.once('secureConnect', () => { clearTimeout(timer); resolve(socket); });
      socket.once('error', (error: NodeJS.ErrnoException) => { clearTimeout(timer); reject(new LineSocketError(error.message, 'tls', error.code)); });
    });
    this.#socket = secure;
    this.#chunks = [];
    this.#queued = 0;
    this.#attach(secure);
  }

  write(line: string): void {
    this.#socket.write(`${line}\r\n`);
  }

  /** The next line without its CR?LF, within the reply's limits; lines over `maxBytes` fail (ELINETOOLONG). */
  async readLine(options: ReadOptions = {}): Promise<Buffer> {
    const timer = options.timer ?? ReplyTimer.oneLine('the answer', this.#options.timeoutMs);
    const maxBytes = options.maxBytes ?? defaultMaxLine;
    let scanned = 0;
    for (;;) {
      const end = this.#indexOfLf(scanned);
      if (end >= 0) {
        const line = this.#take(end + 1);
        timer.received(line.length);
        return line.subarray(0, end > 0 && line[end - 1] === 0x0d ? end - 1 : end);
      }
      scanned = this.#queued;
      // CR LF may still come: a line is too long once it cannot end within the cap.
      if (this.#queued > maxBytes + 1) {
        throw new LineSocketError(`the server sent a line longer than ${maxBytes} bytes (${timer.limits.what})`, 'read', 'ELINETOOLONG');
      }
      await this.#waitForData(timer);
    }
  }

  async readText(options?: ReadOptions): Promise<string> {
    return (await this.readLine(options)).toString('utf8');
  }

  /** The next bytes as they came (one chunk, at most 64 KB or so), within the reply's limits. */
  async readChunk(timer: ReplyTimer): Promise<Buffer> {
    while (this.#queued === 0) await this.#waitForData(timer);
    const chunk = this.#take(this.#chunks[0]!.length);
    timer.received(chunk.length);
    return chunk;
  }

  /** Puts bytes read too far back in front of the queue (what came after a reply's end). */
  unread(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.#chunks.unshift(bytes);
    this.#queued += bytes.length;
  }

  close(): void {
    this.#socket.destroy();
  }

  /** Waits for more bytes (or the end, or an error) within the reply's limits. */
  async #waitForData(timer: ReplyTimer): Promise<void> {
    // The reader wants more: read on even past the read-ahead (the rest of a long line).
    if (this.#socket.isPaused()) this.#socket.resume();
    const started = Date.now();
    for (;;) {
      if (this.#error) throw this.#error;
      if (this.#ended) throw new LineSocketError('the server closed the connection', 'read', 'ECONNRESET');
      const now = Date.now();
      const wait = timer.nextWait(now, now - started);
      if (wait instanceof ReplyTimeout) throw new LineSocketError(wait.message, 'read', wait.code);
      const woken = await new Promise<boolean>((resolve) => {
        const timeout = setTimeout(() => resolve(false), wait);
        this.#waiter = () => { clearTimeout(timeout); resolve(true); };
      });
      this.#waiter = undefined;
      timer.waited(Date.now() - now);
      if (woken && this.#chunks.length > 0) return;
    }
  }

  /** Position of the first LF in the queue at or after `from`, or -1. */
  #indexOfLf(from: number): number {
    let offset = 0;
    for (const chunk of this.#chunks) {
      if (from < offset + chunk.length) {
        const at = chunk.indexOf(0x0a, Math.max(0, from - offset));
        if (at >= 0) return offset + at;
      }
      offset += chunk.length;
    }
    return -1;
  }

  /** Removes the first `n` queued bytes (one copy only when they span chunks), resuming the socket below the read-ahead. */
  #take(n: number): Buffer {
    let out: Buffer;
    const first = this.#chunks[0]!;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      const parts: Buffer[] = [];
      let left = n;
      while (left > 0) {
        const chunk = this.#chunks[0]!;
        if (chunk.length <= left) {
          parts.push(chunk);
          this.#chunks.shift();
          left -= chunk.length;
        } else {
          parts.push(chunk.subarray(0, left));
          this.#chunks[0] = chunk.subarray(left);
          left = 0;
        }
      }
      out = Buffer.concat(parts, n);
    }
    this.#queued -= n;
    if (this.#queued < readAheadBytes && this.#socket.isPaused()) this.#socket.resume();
    return out;
  }

  #attach(socket: Socket | TLSSocket): void {
    socket.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#queued += chunk.length;
      // No one is waiting for these yet: stop reading until the reader catches up.
      if (this.#queued >= readAheadBytes && !this.#waiter) socket.pause();
      this.#wake();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.#error = new LineSocketError(error.message, 'read', error.code);
      this.#wake();
    });
    socket.on('end', () => { this.#ended = true; this.#wake(); });
    socket.on('close', () => { this.#ended = true; this.#wake(); });
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }
}

function tlsOptionsFor(options: LineSocketOptions): ConnectionOptions {
  return {
    rejectUnauthorized: !options.tlsSkipVerify,
    ...(isIP(options.host) ? {} : { servername: options.host }),
    ...(options.tlsCa ? { ca: options.tlsCa } : {}),
  };
}
