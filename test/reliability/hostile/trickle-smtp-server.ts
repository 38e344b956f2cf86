import { createServer, type Socket } from 'node:net';

/** Where the server starts to trickle: the reply to EHLO, or the final reply after the message. */
export type TrickleAt = 'ehlo' | 'after-data';

export interface TrickleSmtpServer {
  port: number;
  connections(): number;
  /** Messages received whole (the terminating dot seen). */
  messages(): number;
  close(): Promise<void>;
}

/**
 * A hostile SMTP server on loopback: it answers normally up to one reply, and that reply it
 * never finishes: one more continuation line ("250-…") every `everyMs`, for as long as the
 * client stays. An idle timeout longer than `everyMs` never fires against it.
 */
export async function startTrickleSmtp(at: TrickleAt, everyMs = 4000): Promise<TrickleSmtpServer> {
  const sockets = new Set<Socket>();
  let connections = 0;
  let messages = 0;
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    let timer: NodeJS.Timeout | undefined;
    const trickle = (first: string) => {
      socket.write(`${first}\r\n`);
      timer = setInterval(() => socket.write('250-still thinking about it\r\n'), everyMs);
    };
    socket.on('close', () => {
      clearInterval(timer);
      sockets.delete(socket);
    });
    socket.on('error', () => undefined);
    let buffer = '';
    let inData = false;
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) {
            buffer = buffer.slice(-4); // keep what may start the terminator
            return;
          }
          buffer = buffer.slice(end + 5);
          inData = false;
          messages++;
          if (at === 'after-data') trickle('250-message received, checking it');
          else socket.write('250 2.0.0 Ok: queued\r\n');
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol < 0) return;
        const line = buffer.slice(0, eol);
        buffer = buffer.slice(eol + 2);
        const verb = line.split(' ')[0]!.toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') {
          if (at === 'ehlo') trickle('250-trickle.test greets you');
          else socket.write('250-trickle.test\r\n250 8BITMIME\r\n');
        } else if (verb === 'DATA') {
          inData = true;
          socket.write('354 End data with <CR><LF>.<CR><LF>\r\n');
        } else if (verb === 'QUIT') {
          socket.end('221 2.0.0 Bye\r\n');
        } else {
          socket.write('250 2.0.0 Ok\r\n');
        }
      }
    });
    socket.write('220 trickle.test ESMTP\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as { port: number }).port,
    connections: () => connections,
    messages: () => messages,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}
