import { createHash } from 'node:crypto';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pop3Source } from '../../../src/inbound/pop3-source.js';
import { startDovecot, type Dovecot } from '../../helpers/dovecot.js';
import { startPop3Server, writeAll, dotStuffed, type Pop3TestServer } from '../../helpers/pop3-server.js';
import { bySize, reliabilityTier } from '../../helpers/reliability-tier.js';
import { runCli } from '../../helpers/run-cli.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

/**
 * Issue 14, item 2 (POP3): a message with one line over 1 MB — Postfix delivers it unchanged —
 * made every poll fail with "no answer from the server" (the client stopped reading once 1 MB
 * without a line end was buffered), and nothing after it was ever taken. Now RETR streams
 * bytes, not lines: the message is taken whole, the next one too, with bounded memory, and the
 * socket is read only as fast as the message's reader goes (backpressure).
 */
const lineBytes = bySize(8 * 1024 * 1024, 1536 * 1024);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

function longLineMessage(id: string, bytes: number): Buffer {
  // One base64-looking line with no line break, as a broken mailer sends an attachment.
  const line = Buffer.alloc(bytes, 'QUJD');
  return Buffer.concat([
    Buffer.from(`From: Lee <lee@partner.test>\r\nTo: contracts@acme.test\r\nSubject: one line of ${bytes} bytes\r\nMessage-ID: <${id}>\r\nContent-Type: text/plain\r\n\r\n`),
    line,
    Buffer.from('\r\n.. a stuffed dot line after it\r\n'),
  ]);
}

function normalMessage(id: string): Buffer {
  return Buffer.from(`From: Lee <lee@partner.test>\r\nTo: contracts@acme.test\r\nSubject: the message after it\r\nMessage-ID: <${id}>\r\n\r\nStill taken.\r\n`);
}

async function setUpKb(home: string, port: number, user: string): Promise<void> {
  const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
  const cli = async (args: string[], input?: string) => {
    const r = await runCli(args, { env, ...(input !== undefined ? { input } : {}) });
    expect(r.code, `mailctl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  };
  await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
  await cli(['tables', 'add', 'contracts']);
  await cli(['contacts', 'add', 'guest@acme.test', '--guest']);
  await cli(['configure', 'inbound', 'contracts', '--protocol', 'pop3', '--host', '127.0.0.1', '--port', String(port), '--security', 'none', '--auth', 'password',
    '--username', user, '--secret-stdin', '--create-records', '--unknown-sender', 'guest', '--guest', 'guest@acme.test', '--notes', 'whole-body', '--after', 'delete'], 'pw');
}

/** `daemon --once`: both messages taken, each stored byte for byte. */
async function expectBothTaken(home: string, messages: Buffer[]): Promise<void> {
  const started = Date.now();
  const r = await runCli(['daemon', '--once', '--timeout', '5s', '--json'], { env: { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' }, timeoutMs: 120_000 });
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  const account = (JSON.parse(r.stdout) as { accounts: Array<{ status: string; poll?: { processed: number } }> }).accounts[0]!;
  expect(account, r.stdout).toMatchObject({ status: 'ok', poll: { processed: 2 } });
  expect(Date.now() - started).toBeLessThan(60_000);
  const db = new BetterSqlite3(join(home, 'mailctl.db'), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT raw_hash AS rawHash, disposition FROM communications WHERE direction = 'inbound' ORDER BY id").all() as Array<{ rawHash: string; disposition: string }>;
    expect(rows.map((row) => row.rawHash)).toEqual(messages.map(sha256));
    expect(rows.map((row) => row.disposition)).not.toContain('quarantined');
  } finally {
    db.close();
  }
}

describe(`POP3: a message with a line of ${lineBytes} bytes, then a normal one (${reliabilityTier} tier)`, () => {
  const tempDir = useTempDirs();
  let server: Pop3TestServer;
  let dovecot: Dovecot;
  const long = longLineMessage('long-line@partner.test', lineBytes);
  const next = normalMessage('after-long-line@partner.test');
  beforeAll(async () => {
    [server, dovecot] = await Promise.all([
      startPop3Server({ 'contracts@acme.test': { password: 'pw', messages: [{ uidl: 'long-1', raw: long }, { uidl: 'next-2', raw: next }] } }),
      startDovecot({ users: [{ name: 'contracts@acme.test', password: 'pw' }] }),
    ]);
  });
  afterAll(async () => {
    await server?.close();
    await dovecot?.stop();
  });

  it('daemon --once takes both, whole, and deletes both (a POP3 server written in the test)', async () => {
    const home = tempDir();
    await setUpKb(home, server.port, 'contracts@acme.test');
    await expectBothTaken(home, [long, next]);
    expect(server.deleted('contracts@acme.test')).toEqual(['long-1', 'next-2']);
  });

  it('daemon --once takes both from a real Dovecot (delivered into its maildir, as Postfix would)', async () => {
    dovecot.deliver('contracts@acme.test', long);
    dovecot.deliver('contracts@acme.test', next);
    const home = tempDir();
    await setUpKb(home, dovecot.pop3Port, 'contracts@acme.test');
    await expectBothTaken(home, [long, next]);
    expect(dovecot.messages('contracts@acme.test')).toEqual([]);
  });

  it('reads the socket only as fast as a slow reader takes the message: 64 MB of 4 MB lines, bounded read-ahead and memory', async () => {
    const lines = Array.from({ length: 16 }, (_, i) => Buffer.alloc(4 * 1024 * 1024 - 2, String.fromCharCode(0x41 + i)));
    const raw = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), ...lines.flatMap((line) => [line, Buffer.from('\r\n')])]);
    const wire = Buffer.concat([Buffer.from('+OK\r\n'), dotStuffed(raw)]);
    let sent = 0;
    const big = await startPop3Server({
      reader: {
        password: 'pw',
        messages: [{
          uidl: 'big', raw,
          // As fast as the kernel takes it, counting what left the server.
          retr: async (socket) => {
            for (let at = 0; at < wire.length; at += 256 * 1024) {
              await writeAll(socket, wire.subarray(at, at + 256 * 1024));
              sent = socket.bytesWritten - socket.writableLength;
            }
          },
        }],
      },
    });
    const source = new Pop3Source({ host: '127.0.0.1', port: big.port, security: 'none', user: 'reader', credential: { pass: 'pw' }, folder: 'INBOX', afterProcessing: 'keep', timeoutMs: 5000 });
    try {
      const [ref] = await source.list({ unseenOnly: false });
      const gc = (globalThis as { gc?: () => void }).gc!;
      gc();
      const base = process.memoryUsage();
      const stream = await source.open(ref!);
      const hash = createHash('sha256');
      let read = 0;
      let aheadMax = 0;
      let liveMax = 0;
      let nextPause = 0;
      for await (const chunk of stream) {
        hash.update(chunk as Buffer);
        read += (chunk as Buffer).length;
        aheadMax = Math.max(aheadMax, sent - read);
        if (read >= nextPause) {
          // A slow reader: 2 ms every 128 KB (about 60 MB/s at most), sampling live memory each MB.
          nextPause += 128 * 1024;
          await new Promise((resolve) => setTimeout(resolve, 2));
          if (read % (1024 * 1024) < 128 * 1024) {
            gc();
            const now = process.memoryUsage();
            liveMax = Math.max(liveMax, now.arrayBuffers + now.heapUsed - base.arrayBuffers - base.heapUsed);
          }
        }
      }
      expect(read).toBe(raw.length);
      expect(hash.digest('hex')).toBe(sha256(raw));
      // Without backpressure the server would be done long before the reader (64 MB ahead);
      // what is allowed is the kernel's socket buffers on both sides plus our 256 KB read-ahead.
      expect(aheadMax).toBeLessThan(16 * 1024 * 1024); // 5 MB seen here
      expect(liveMax).toBeLessThan(8 * 1024 * 1024); // 1.7 MB seen here
    } finally {
      await source.close();
      await big.close();
    }
  });
});
