import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { startPop3Server, writeAll, type Pop3TestServer } from '../../helpers/pop3-server.js';
import { runCli } from '../../helpers/run-cli.js';
import { startSmtpSink, type SmtpSink } from '../../helpers/smtp-sink.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

/**
 * Issue 14, item 4 (POP3): a server that trickles its answer — a line every 4 s, under the 5 s
 * idle timeout — kept `daemon --once --timeout 5s` running for minutes, holding up the other
 * mailboxes and the queue. Every POP3 exchange now has an overall limit: a one-line reply is
 * whole within --timeout; a listing or a message keeps coming at 2 KB/s (over each --timeout
 * spent waiting) and ends by its deadline. Here three trickling mailboxes — the greeting, the
 * UIDL listing, a RETR — fail with an error that says so (the RETR one naming the message),
 * and the run still takes the healthy mailbox and sends the queue, in under 30 s.
 */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes `lines` in turn, one every `everyMs`, until the client goes away. */
async function trickle(socket: Socket, lines: string[], everyMs: number): Promise<void> {
  for (let i = 0; !socket.destroyed; i++) {
    await writeAll(socket, lines[i % lines.length]!);
    await sleep(everyMs);
  }
}

const message = (subject: string, id: string) => Buffer.from(`From: Lee <lee@partner.test>\r\nTo: in@acme.test\r\nSubject: ${subject}\r\nMessage-ID: <${id}>\r\n\r\nBody of ${subject}.\r\n`);

describe('POP3 servers that trickle their answers, with daemon --once --timeout 5s', () => {
  const tempDir = useTempDirs();
  let pop3: Pop3TestServer;
  let greeter: Pop3TestServer;
  let sink: SmtpSink;
  beforeAll(async () => {
    const header = 'X-Filler: trickled one line every 4 s, under the idle timeout\r\n';
    [pop3, greeter, sink] = await Promise.all([
      startPop3Server({
        // RETR: "+OK", then a header line every 4 s for ever; the message is listed at its honest size.
        'slow-retr@acme.test': { password: 'pw', messages: [{ uidl: 'trickle-1', raw: message('trickled', 'trickle@partner.test'), retr: async (socket) => {
          await writeAll(socket, '+OK\r\n');
          await trickle(socket, [header], 4000);
        } }] },
        // UIDL: "+OK", then a listing line every 4 s for ever.
        'slow-list@acme.test': { password: 'pw', messages: [], uidl: async (socket) => {
          await writeAll(socket, '+OK\r\n');
          let n = 0;
          while (!socket.destroyed) {
            await writeAll(socket, `${++n} uid-${n}\r\n`);
            await sleep(4000);
          }
        } },
        'fast@acme.test': { password: 'pw', messages: [{ uidl: 'fast-1', raw: message('healthy', 'healthy@partner.test') }] },
      }),
      // The greeting, one byte every 1 s: each byte well inside the idle timeout.
      startPop3Server({}, { greet: async (socket) => {
        for (const byte of '+OK a very slow hello\r\n') {
          await writeAll(socket, byte);
          await sleep(1000);
        }
      } }),
      startSmtpSink(),
    ]);
  });
  afterAll(async () => {
    await pop3?.close();
    await greeter?.close();
    await sink?.close();
  });

  it('each trickler fails with a clear error within its limit; the healthy mailbox and the queue are not held up; all in under 30 s', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const cli = async (args: string[], input?: string) => {
      const r = await runCli(args, { env, ...(input !== undefined ? { input } : {}) });
      expect(r.code, `mailctl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
      return r;
    };
    await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await cli(['contacts', 'add', 'guest@acme.test', '--guest']);
    const accounts = [['aslowgreet', greeter.port, 'nobody@acme.test'], ['bslowlist', pop3.port, 'slow-list@acme.test'], ['cslowretr', pop3.port, 'slow-retr@acme.test'], ['dfast', pop3.port, 'fast@acme.test']] as const;
    for (const [table, port, user] of accounts) {
      await cli(['tables', 'add', table]);
      await cli(['configure', 'inbound', table, '--protocol', 'pop3', '--host', '127.0.0.1', '--port', String(port), '--security', 'none', '--auth', 'password',
        '--username', user, '--secret-stdin', '--create-records', '--unknown-sender', 'guest', '--guest', 'guest@acme.test', '--after', 'delete', '--no-verify'], 'pw');
    }
    await cli(['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'none', '--from', 'records@acme.test']);
    const record = JSON.parse((await cli(['records', 'add', '--table', 'dfast', '--title', 'MSA', '--json'])).stdout) as { record: { id: number } };
    await cli(['send', '--table', 'dfast', '--record', String(record.record.id), '--to', 'pat@partner.test', '--subject', 'Queued before the poll', '--body', 'Sent in the same run.']);

    const started = Date.now();
    // The old client ran for minutes here: the test gives up (and fails) at 60 s.
    const run = await runCli(['daemon', '--once', '--timeout', '5s', '--json'], { env, timeoutMs: 60_000 });
    const seconds = (Date.now() - started) / 1000;
    const said = `${run.stdout}\n${run.stderr}`;
    expect(seconds, said).toBeLessThan(30);
    const result = JSON.parse(run.stdout) as { accounts: Array<{ table: string; status: string; error?: string; poll?: { processed: number } }>; outbound: { sent: number } };
    const byTable = new Map(result.accounts.map((a) => [a.table, a]));
    // The greeting: a one-line reply, whole within --timeout.
    expect(byTable.get('aslowgreet'), said).toMatchObject({ status: 'failed', error: expect.stringMatching(/no (complete )?answer from the server within 5000 ms/) });
    // The listing: too slow for its pace.
    expect(byTable.get('bslowlist'), said).toMatchObject({ status: 'failed', error: expect.stringMatching(/UIDL answer/) });
    expect(byTable.get('bslowlist')!.error).toMatch(/too slowly/);
    // The message: too slow, and the error names it (wherever the poll reports it).
    expect(said).toMatch(/Taking pop3:trickle-1 \(RETR 1\) failed: the server is sending the message \(listed at \d+ bytes\) too slowly/);
    // The healthy mailbox after them, and the queue, in the same run.
    expect(byTable.get('dfast'), said).toMatchObject({ status: 'ok', poll: { processed: 1 } });
    expect(result.outbound.sent, said).toBe(1);
    expect(sink.messages.map((m) => m.to)).toEqual([['pat@partner.test']]);
    expect(pop3.deleted('fast@acme.test')).toEqual(['fast-1']);
  }, 90_000);
});
