import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';

/** A message in the test server's maildrop. */
export interface Pop3TestMessage {
  uidl: string;
  raw: Buffer;
  /** The size LIST gives (default: the true size). */
  listedSize?: number;
  /**
   * Sends the RETR answer instead of the honest one (after nothing: write "+OK" yourself).
   * A hostile server: a trickle, an answer that never ends.
   */
  retr?: (socket: Socket, message: Pop3TestMessage) => Promise<void>;
}

export interface Pop3TestUser {
  password: string;
  messages: Pop3TestMessage[];
  /** Sends the UIDL answer instead of the honest one (an endless listing). */
  uidl?: (socket: Socket) => Promise<void>;
}

export interface Pop3TestServer {
  port: number;
  /** UIDLs deleted at a QUIT, per user. */
  deleted(user: string): string[];
  /** Connections opened so far. */
  connections(): number;
  close(): Promise<void>;
}

/** Writes `data`, waiting while the socket's buffer is full (as a real server would). */
export async function writeAll(socket: Socket, data: Buffer | string): Promise<void> {
  if (socket.destroyed) throw new Error('the client went away');
  if (!socket.write(data)) {
    await new Promise<void>((resolve) => {
      const done = () => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }
  if (socket.destroyed) throw new Error('the client went away');
}

/** RFC 1939 dot-stuffing of a message, with the end line. */
export function dotStuffed(raw: Buffer): Buffer {
  const text = raw.toString('latin1').replace(/(^|\n)\./g, '$1..');
  return Buffer.concat([Buffer.from(text, 'latin1'), Buffer.from(raw.length === 0 || raw.subarray(-2).toString() === '\r\n' ? '' : '\r\n'), Buffer.from('.\r\n')]);
}

/**
 * A POP3 server written for the hostile-server tests (in-process, loopback, a free port):
 * USER/PASS, STAT, UIDL, LIST, RETR, DELE, NOOP, RSET, QUIT (deletions at QUIT). Honest by
 * default; a message's `retr` or a user's `uidl` makes one answer hostile.
 */
export async function startPop3Server(users: Record<string, Pop3TestUser>, options: { greet?: (socket: Socket) => Promise<void> } = {}): Promise<Pop3TestServer> {
  const deleted = new Map<string, string[]>();
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    void serve(socket).catch(() => socket.destroy());
  });
  async function serve(socket: Socket): Promise<void> {
    let user: string | undefined;
    let account: Pop3TestUser | undefined;
    const marked = new Set<number>();
    if (options.greet) await options.greet(socket);
    else await writeAll(socket, '+OK hostile test POP3 ready\r\n');
    let pending = '';
    for await (const chunk of socket as AsyncIterable<Buffer>) {
      pending += chunk.toString('latin1');
      let end: number;
      while ((end = pending.indexOf('\r\n')) >= 0) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 2);
        const [verb = '', arg = ''] = line.split(' ');
        const messages = account?.messages ?? [];
        const message = messages[Number(arg) - 1];
        switch (verb.toUpperCase()) {
          case 'USER': user = arg; await writeAll(socket, '+OK\r\n'); break;
          case 'PASS':
            account = user !== undefined && users[user]?.password === arg ? users[user] : undefined;
            await writeAll(socket, account ? '+OK logged in\r\n' : '-ERR [AUTH] wrong user or password\r\n');
            break;
          case 'STAT': await writeAll(socket, `+OK ${messages.length} ${messages.reduce((n, m) => n + m.raw.length, 0)}\r\n`); break;
          case 'UIDL':
            if (account?.uidl) await account.uidl(socket);
            else await writeAll(socket, `+OK\r\n${messages.map((m, i) => `${i + 1} ${m.uidl}\r\n`).join('')}.\r\n`);
            break;
          case 'LIST': await writeAll(socket, `+OK\r\n${messages.map((m, i) => `${i + 1} ${m.listedSize ?? m.raw.length}\r\n`).join('')}.\r\n`); break;
          case 'RETR':
            if (!message) await writeAll(socket, '-ERR no such message\r\n');
            else if (message.retr) await message.retr(socket, message);
            else await writeAll(socket, Buffer.concat([Buffer.from(`+OK ${message.raw.length} octets\r\n`), dotStuffed(message.raw)]));
            break;
          case 'DELE': if (message) marked.add(Number(arg)); await writeAll(socket, message ? '+OK\r\n' : '-ERR no such message\r\n'); break;
          case 'NOOP': await writeAll(socket, '+OK\r\n'); break;
          case 'RSET': marked.clear(); await writeAll(socket, '+OK\r\n'); break;
          case 'QUIT':
            if (user !== undefined && account) {
              deleted.set(user, [...(deleted.get(user) ?? []), ...[...marked].map((n) => messages[n - 1]!.uidl)]);
              account.messages = messages.filter((_, i) => !marked.has(i + 1));
            }
            socket.end('+OK bye\r\n');
            return;
          default: await writeAll(socket, '-ERR unknown command\r\n');
        }
      }
    }
  }
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    deleted: (user) => deleted.get(user) ?? [],
    connections: () => connections,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
