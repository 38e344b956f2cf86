import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';

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

const highWater = 1024 * 1024;

/**
 * A line-oriented client socket (for the IMAP probe and POP3): connect or TLS-connect,
 * read CRLF lines with a timeout, upgrade to TLS in place. Incoming data is buffered up
 * to 1 MB, then the socket is paused, so a large message streams through.
 */
export class LineSocket {
  #socket: Socket | TLSSocket;
  #buffer: Buffer = Buffer.alloc(0);
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
    this.#buffer = Buffer.alloc(0);
    this.#attach(secure);
  }

  write(line: string): void {
    this.#socket.write(`${line}\r\n`);
  }

  /** The next line without its CRLF, or an error after the timeout. */
  async readLine(timeoutMs = this.#options.timeoutMs): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.#buffer.indexOf(0x0a);
      if (end >= 0) {
        const line = this.#buffer.subarray(0, end > 0 && this.#buffer[end - 1] === 0x0d ? end - 1 : end);
        this.#buffer = this.#buffer.subarray(end + 1);
        if (this.#buffer.length < highWater && this.#socket.isPaused()) this.#socket.resume();
        return line;
      }
      if (this.#error) throw this.#error;
      if (this.#ended) throw new LineSocketError('the server closed the connection', 'read', 'ECONNRESET');
      const left = deadline - Date.now();
      if (left <= 0) throw new LineSocketError(`no answer from the server within ${timeoutMs} ms`, 'read', 'ETIMEDOUT');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => { clearTimeout(timer); resolve(); };
      });
    }
  }

  async readText(timeoutMs?: number): Promise<string> {
    return (await this.readLine(timeoutMs)).toString('utf8');
  }

  close(): void {
    this.#socket.destroy();
  }

  #attach(socket: Socket | TLSSocket): void {
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      if (this.#buffer.length >= highWater) socket.pause();
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
