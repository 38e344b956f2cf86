import { Readable } from 'node:stream';
import { InboundFailure } from './inbound-failure.js';
import { LineSocket, type LineSocketOptions } from './line-socket.js';
import { DotDecoder } from './pop3-dot-decoder.js';
import { longReplyTimer, messageAllowance, pop3Limits } from './pop3-limits.js';
import { ReplyTimer } from './reply-timer.js';
import { socketFailure } from './server-probe.js';

type Phase = 'tls' | 'auth' | 'list' | 'fetch' | 'mark';

/** What RETR is told about the message it takes: its listed size (the reply's allowance) and a name for errors. */
export interface RetrieveOptions {
  listedSize: number;
  /** How errors name the message (its key, "pop3:<UIDL>"). */
  label: string;
  /** max_message_size (bytes, as sent on the wire): the allowance is never more than this. */
  maxBytes?: number | undefined;
}

/**
 * A small POP3 client (RFC 1939, STLS from RFC 2595, AUTH XOAUTH2): just what an inbound
 * account needs. RETR streams the message in the pieces it arrives in, dot-unstuffed, at the
 * pace of its reader (lines of any length; nothing held whole). Every reply has limits
 * (pop3-limits.ts): each wait within `--timeout`, and for listings and messages an overall
 * deadline, a minimum pace and a size cap.
 *
 * A reply that fails part-way leaves the connection out of step with the server: the client
 * is then `broken` (its socket closed) and the caller opens a new one.
 */
export class Pop3Client {
  #socket: LineSocket;
  #busy = false;
  #broken = false;

  private constructor(socket: LineSocket) {
    this.#socket = socket;
  }

  /** Connects, reads the greeting and, for STARTTLS, upgrades with STLS. */
  static async connect(options: LineSocketOptions & { starttls: boolean }): Promise<Pop3Client> {
    let socket: LineSocket | undefined;
    try {
      socket = await LineSocket.connect(options);
      const greeting = await socket.readText({ timer: ReplyTimer.oneLine('the greeting', options.timeoutMs) });
      if (!greeting.startsWith('+OK')) throw new InboundFailure('pop3', 'greeting', `not a POP3 greeting: ${greeting}`, { serverSaid: greeting });
      const client = new Pop3Client(socket);
      if (options.starttls) {
        const reply = await client.#command('STLS', 'tls');
        if (!reply.startsWith('+OK')) throw new InboundFailure('pop3', 'tls', `STARTTLS is required for this account, but the server refused STLS: ${reply}`, { serverSaid: reply, detailCode: 'STARTTLS_UNAVAILABLE' });
        await socket.startTls();
      }
      return client;
    } catch (error) {
      socket?.close();
      throw socketFailure('pop3', error, 'greeting');
    }
  }

  /** True once a reply failed part-way: the connection is closed and of no further use. */
  get broken(): boolean {
    return this.#broken;
  }

  async login(user: string, credential: { pass: string } | { accessToken: string }): Promise<void> {
    if ('accessToken' in credential) {
      const payload = Buffer.from(`user=${user}\x01auth=Bearer ${credential.accessToken}\x01\x01`).toString('base64');
      let reply = await this.#command(`AUTH XOAUTH2 ${payload}`, 'auth');
      // On failure some servers send a "+ <base64 error>" continuation first: answer it empty.
      if (reply.startsWith('+ ')) reply = await this.#command('', 'auth');
      if (!reply.startsWith('+OK')) throw new InboundFailure('pop3', 'auth', `The POP3 server refused the OAuth login: ${reply}`, { serverSaid: reply, detailCode: 'AUTH' });
      return;
    }
    const userReply = await this.#command(`USER ${user}`, 'auth');
    if (!userReply.startsWith('+OK')) throw new InboundFailure('pop3', 'auth', `The POP3 server refused the user name: ${userReply}`, { serverSaid: userReply, detailCode: 'AUTH' });
    const passReply = await this.#command(`PASS ${credential.pass}`, 'auth');
    if (!passReply.startsWith('+OK')) throw new InboundFailure('pop3', 'auth', `The POP3 server refused the login: ${passReply}`, { serverSaid: passReply, detailCode: 'AUTH' });
  }

  async stat(): Promise<{ count: number; size: number }> {
    const reply = await this.#ok('STAT', 'list');
    const [, count = '0', size = '0'] = reply.split(' ');
    return { count: Number(count), size: Number(size) };
  }

  /** Message number → unique id (at most `pop3Limits.maxListed`). */
  async uidl(): Promise<Map<number, string>> {
    const lines = await this.#listing('UIDL');
    return new Map(lines.map((line) => { const [n, id] = line.split(' '); return [Number(n), id ?? ''] as const; }));
  }

  /** Message number → size in octets (at most `pop3Limits.maxListed`). */
  async list(): Promise<Map<number, number>> {
    const lines = await this.#listing('LIST');
    // A size that is no number counts as 0 (the message then gets the smallest allowance).
    return new Map(lines.map((line) => { const [n, size] = line.split(' '); return [Number(n), Number(size) || 0] as const; }));
  }

  /**
   * Streams message `n`, dot-unstuffed, with backpressure: bytes are read from the server only
   * as the stream is read. Read it to the end before the next command; a stream destroyed
   * before its end leaves the client broken. Fails (InboundFailure, phase "fetch", naming
   * `label`) on -ERR, and, breaking the connection, when the answer stalls, trickles, passes
   * its deadline or grows past its allowance (twice the listed size + 1 MB).
   */
  async retrieve(n: number, options: RetrieveOptions): Promise<Readable> {
    const listedAllowance = messageAllowance(options.listedSize);
    // max_message_size bounds it too: a message larger than that is not taken whatever it is listed at.
    const allowance = options.maxBytes !== undefined ? Math.min(listedAllowance, options.maxBytes) : listedAllowance;
    const timer = longReplyTimer(`the message (listed at ${options.listedSize} bytes)`, this.#socket.timeoutMs, allowance);
    const failed = (reason: string, facts: { serverSaid?: string; detailCode?: string | undefined; messageFault?: boolean } = {}) =>
      new InboundFailure('pop3', 'fetch', `Taking ${options.label} (RETR ${n}) failed: ${reason}`, facts);
    let reply: string;
    try {
      reply = await this.#command(`RETR ${n}`, 'fetch', timer);
    } catch (error) {
      const failure = socketFailure('pop3', error, 'fetch');
      throw failed(failure.message, { detailCode: failure.detailCode });
    }
    // -ERR to RETR is the server's answer about this message (unreadable on its side): its own fault.
    if (!reply.startsWith('+OK')) throw failed(`the server answered ${reply}`, { serverSaid: reply, messageFault: true });

    this.#busy = true;
    const socket = this.#socket;
    const decoder = new DotDecoder();
    let finished = false;
    let pumping = false;
    const pump = async () => {
      if (pumping || finished) return;
      pumping = true;
      try {
        for (;;) {
          const piece = decoder.push(await socket.readChunk(timer));
          if (timer.bytes > allowance) {
            throw new InboundFailure('pop3', 'fetch', allowance < listedAllowance
              ? `the message is larger than max_message_size: the server sent more than ${allowance} bytes`
              : `the server sent more than ${allowance} bytes for a message it listed at ${options.listedSize} (the most taken is twice the listed size + 1 MB, and 1 GB at most)`, { detailCode: 'MESSAGE_TOO_LARGE', messageFault: true });
          }
          if (stream.destroyed) return;
          let wantsMore = true;
          for (const data of piece.data) wantsMore = stream.push(data) && wantsMore;
          if (piece.ended) {
            finished = true;
            this.#busy = false;
            socket.unread(piece.rest);
            stream.push(null);
            return;
          }
          if (!wantsMore) return;
        }
      } catch (error) {
        this.#break();
        if (!stream.destroyed) {
          const failure = socketFailure('pop3', error, 'fetch');
          stream.destroy(failed(failure.message, { detailCode: failure.detailCode, messageFault: error instanceof InboundFailure && error.messageFault }));
        }
      } finally {
        pumping = false;
      }
    };
    const stream = new Readable({
      highWaterMark: 64 * 1024,
      read: () => void pump(),
      destroy: (error, callback) => {
        // Left before its end (the reader gave up): the rest of the message is still coming.
        if (!finished) this.#break();
        callback(error);
      },
    });
    return stream;
  }

  async delete(n: number): Promise<void> {
    await this.#ok(`DELE ${n}`, 'mark');
  }

  /** QUIT commits deletions (RFC 1939 UPDATE state), then closes. */
  async quit(): Promise<void> {
    try {
      if (!this.#busy && !this.#broken) await this.#command('QUIT', 'mark');
    } finally {
      this.#socket.close();
    }
  }

  close(): void {
    this.#socket.close();
  }

  #break(): void {
    this.#broken = true;
    this.#busy = false;
    this.#socket.close();
  }

  /** Sends a command and reads its first line (by default within `--timeout`); a broken reply breaks the client. */
  async #command(line: string, phase: Phase, timer?: ReplyTimer): Promise<string> {
    if (this.#broken) throw new InboundFailure('pop3', phase === 'tls' ? 'greeting' : phase, 'the connection to the POP3 server was lost earlier in this session');
    if (this.#busy) throw new InboundFailure('pop3', phase === 'tls' ? 'greeting' : phase, 'the previous message is still being read');
    try {
      this.#socket.write(line);
      return await this.#socket.readText({ timer: timer ?? ReplyTimer.oneLine(`the answer to ${line.split(' ')[0]}`, this.#socket.timeoutMs) });
    } catch (error) {
      this.#break();
      throw socketFailure('pop3', error, phase === 'tls' ? 'greeting' : phase);
    }
  }

  async #ok(line: string, phase: 'list' | 'fetch' | 'mark', timer?: ReplyTimer): Promise<string> {
    const reply = await this.#command(line, phase, timer);
    if (!reply.startsWith('+OK')) throw new InboundFailure('pop3', phase, `${line.split(' ')[0]} failed: ${reply}`, { serverSaid: reply });
    return reply;
  }

  /**
   * A UIDL or LIST answer, within `pop3Limits`: at most `maxListed` entries and `maxListingBytes`,
   * lines of at most `maxListingLine`, and the long-reply deadline and pace. Past a cap the rest
   * is not read (the client breaks) and the failure names the cap.
   */
  async #listing(command: 'UIDL' | 'LIST'): Promise<string[]> {
    const timer = longReplyTimer(`the ${command} answer`, this.#socket.timeoutMs, pop3Limits.maxListingBytes);
    await this.#ok(command, 'list', timer);
    const lines: string[] = [];
    const tooLong = (what: string) => {
      this.#break();
      return new InboundFailure('pop3', 'list', `The POP3 server's ${command} answer went past ${what}, the most mailctl reads of one listing; it stopped reading. A mailbox this full cannot be polled over POP3: empty it, or use IMAP.`, { detailCode: 'LISTING_TOO_LONG' });
    };
    for (;;) {
      let next: string;
      try {
        next = await this.#socket.readText({ timer, maxBytes: pop3Limits.maxListingLine });
      } catch (error) {
        this.#break();
        throw socketFailure('pop3', error, 'list');
      }
      if (next === '.') return lines;
      if (lines.length >= pop3Limits.maxListed) throw tooLong(`${pop3Limits.maxListed.toLocaleString('en-US')} messages`);
      if (timer.bytes > pop3Limits.maxListingBytes) throw tooLong(`${pop3Limits.maxListingBytes / 1024 / 1024} MB`);
      lines.push(next.startsWith('..') ? next.slice(1) : next);
    }
  }
}
