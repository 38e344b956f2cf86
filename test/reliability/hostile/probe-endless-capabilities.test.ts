import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/run-cli.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

/**
 * Issue 14, items 4 and 5, for the server check (`test-inbound`, `configure`'s verify): the
 * probe read a CAPA / CAPABILITY answer line after line with a fresh idle timeout for each
 * and no limit on their number, so a server answering with endless capability lines grew the
 * process without bound, and one sending a line every 2 s (under a 5 s --timeout) held the
 * check for ever. The whole answer now comes within --timeout, and at most 200 lines of it.
 */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A POP3 or IMAP greeting, then `answer` to the capability command (and silence after). */
async function startServer(protocol: 'pop3' | 'imap', answer: (socket: Socket) => Promise<void>): Promise<{ port: number; server: Server }> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.write(protocol === 'pop3' ? '+OK hello\r\n' : '* OK hello\r\n');
    let buffered = '';
    socket.on('data', (data) => {
      buffered += data.toString('latin1');
      if (/^(CAPA|S2 CAPABILITY)\r?\n/im.test(buffered)) {
        buffered = '';
        answer(socket).catch(() => socket.destroy());
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

/** Lines as fast as the socket takes them, until the client goes away. */
async function endless(socket: Socket, first: string, line: (n: number) => string): Promise<void> {
  socket.write(first);
  for (let n = 0; !socket.destroyed; n++) {
    if (!socket.write(line(n))) await new Promise((resolve) => { socket.once('drain', resolve); socket.once('close', resolve); });
  }
}

/** One line every `everyMs`, until the client goes away. */
async function trickle(socket: Socket, first: string, line: (n: number) => string, everyMs: number): Promise<void> {
  socket.write(first);
  for (let n = 0; !socket.destroyed; n++) {
    socket.write(line(n));
    await sleep(everyMs);
  }
}

const cases = [
  { name: 'POP3, endless CAPA lines', protocol: 'pop3' as const, answer: (s: Socket) => endless(s, '+OK capabilities follow\r\n', (n) => `X-CAP-${n} ${'x'.repeat(200)}\r\n`), expect: /past 200 lines/ },
  { name: 'POP3, a CAPA line every 2 s', protocol: 'pop3' as const, answer: (s: Socket) => trickle(s, '+OK capabilities follow\r\n', (n) => `X-CAP-${n}\r\n`, 2000), expect: /no complete answer from the server within 5000 ms/ },
  { name: 'IMAP, endless untagged CAPABILITY lines', protocol: 'imap' as const, answer: (s: Socket) => endless(s, '', (n) => `* CAPABILITY IMAP4rev1 X-${n} ${'y'.repeat(200)}\r\n`), expect: /past 200 lines/ },
  { name: 'IMAP, an untagged line every 2 s', protocol: 'imap' as const, answer: (s: Socket) => trickle(s, '', (n) => `* CAPABILITY IMAP4rev1 X-${n}\r\n`, 2000), expect: /no complete answer from the server within 5000 ms/ },
];

describe('the server check against endless or trickled capability answers', () => {
  const tempDir = useTempDirs();
  const servers: Server[] = [];
  afterAll(async () => {
    for (const server of servers) await new Promise((resolve) => server.close(resolve));
  });

  for (const c of cases) {
    it(`${c.name}: test-inbound fails within --timeout with an error that says why`, async () => {
      const { port, server } = await startServer(c.protocol, c.answer);
      servers.push(server);
      const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
      for (const args of [['init', '--name', 'acme', '--url', 'https://records.acme.test', '--environment', 'test'], ['tables', 'add', 'contracts']]) {
        expect((await runCli(args, { env })).code).toBe(0);
      }
      const configured = await runCli(['configure', 'inbound', 'contracts', '--protocol', c.protocol, '--host', '127.0.0.1', '--port', String(port), '--security', 'none',
        '--auth', 'password', '--username', 'contracts@acme.test', '--secret-stdin', ...(c.protocol === 'imap' ? ['--folder', 'INBOX'] : []),
        '--create-records', '--unknown-sender', 'ignore', '--notes', 'new-text', '--after', c.protocol === 'imap' ? 'mark-read' : 'keep', '--no-verify'], { env, input: 'pw' });
      expect(configured.code, configured.stderr).toBe(0);

      const started = Date.now();
      const check = await runCli(['--json', 'test-inbound', '--timeout', '5s'], { env, timeoutMs: 30_000 });
      const took = Date.now() - started;
      expect(check.code, check.stdout + check.stderr).not.toBe(0);
      expect(check.stdout + check.stderr).toMatch(c.expect);
      // Start-up, the greeting, and one --timeout at most for the answer.
      expect(took).toBeLessThan(12_000);
    }, 40_000);
  }
});
