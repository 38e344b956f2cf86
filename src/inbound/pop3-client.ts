import { Readable } from 'node:stream';
import { InboundFailure } from './inbound-failure.js';
import { LineSocket, type LineSocketOptions } from './line-socket.js';
import { socketFailure } from './server-probe.js';

/**
 * A small POP3 client (RFC 1939, STLS from RFC 2595, AUTH XOAUTH2): just what an
 * inbound account needs. RETR streams the message line by line with dot-unstuffing,
 * so a 25 MB message never sits whole in memory.
 */
export class Pop3Client {
  #socket: LineSocket;
  #busy = false;

  private constructor(socket: LineSocket) {
    this.#socket = socket;
  }

  /** Connects, reads the greeting and, for STARTTLS, upgrades with STLS. */
  static async connect(options: LineSocketOptions & { starttls: boolean }): Promise<Pop3Client> {
    let socket: LineSocket | undefined;
    try {
      socket = await LineSocket.connect(options);
      const greeting = await socket.readText();
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

  async login(user: string, credential: { pass: string } | { accessToken: string }): Promise<void> {
    if ('accessToken' in credential) {
      const payload = Buffer.from(`user=${user}\x01auth=Bearer ${credential.accessToken}\x01\x01`).toString('base64');
      let reply = await this.#command(`AUTH XOAUTH2 ${payload}`, 'auth');
      // On failure some servers send a "+ <base64 error>" continuation first: answer it empty.
      if (reply.startsWith('+ ')) {
        this.#socket.write('');
        reply = await this.#socket.readText();
      }
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

  /** Message number → unique id. */
  async uidl(): Promise<Map<number, string>> {
    const lines = await this.#multiline('UIDL', 'list');
    return new Map(lines.map((line) => { const [n, id] = line.split(' '); return [Number(n), id ?? ''] as const; }));
  }

  /** Message number → size in octets. */
  async list(): Promise<Map<number, number>> {
    const lines = await this.#multiline('LIST', 'list');
    return new Map(lines.map((line) => { const [n, size] = line.split(' '); return [Number(n), Number(size)] as const; }));
  }

  /** Streams message `n`. Read it to the end before the next command. */
  async retrieve(n: number): Promise<Readable> {
    await this.#ok(`RETR ${n}`, 'fetch');
    this.#busy = true;
    const socket = this.#socket;
    const crlf = Buffer.from('\r\n');
    const done = () => { this.#busy = false; };
    const stream: Readable = new Readable({
      read() {
        socket.readLine().then(
          (line) => {
            if (line.length === 1 && line[0] === 0x2e) {
              done();
              stream.push(null);
              return;
            }
            // Dot-unstuffing: a line starting with ".." carried a leading "."
            const data = line[0] === 0x2e ? line.subarray(1) : line;
            stream.push(Buffer.concat([data, crlf]));
          },
          (error: unknown) => stream.destroy(error as Error),
        );
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
      if (!this.#busy) await this.#command('QUIT', 'mark');
    } finally {
      this.#socket.close();
    }
  }

  close(): void {
    this.#socket.close();
  }

  async #command(line: string, phase: 'tls' | 'auth' | 'list' | 'fetch' | 'mark'): Promise<string> {
    if (this.#busy) throw new InboundFailure('pop3', phase, 'the previous message is still being read');
    try {
      this.#socket.write(line);
      return await this.#socket.readText();
    } catch (error) {
      throw socketFailure('pop3', error, phase === 'tls' ? 'greeting' : phase);
    }
  }

  async #ok(line: string, phase: 'list' | 'fetch' | 'mark'): Promise<string> {
    const reply = await this.#command(line, phase);
    if (!reply.startsWith('+OK')) throw new InboundFailure('pop3', phase, `${line.split(' ')[0]} failed: ${reply}`, { serverSaid: reply });
    return reply;
  }

  async #multiline(line: string, phase: 'list'): Promise<string[]> {
    await this.#ok(line, phase);
    const lines: string[] = [];
    for (;;) {
      const next = await this.#socket.readText();
      if (next === '.') return lines;
      lines.push(next.startsWith('..') ? next.slice(1) : next);
    }
  }
}
