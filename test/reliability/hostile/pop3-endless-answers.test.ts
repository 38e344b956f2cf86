import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPop3Server, writeAll, type Pop3TestServer } from '../../helpers/pop3-server.js';
import { binPath, runCli } from '../../helpers/run-cli.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

/**
 * Issue 14, item 5 (POP3): an endless UIDL answer grew the daemon by 1.7 GB in 30 s — the
 * client kept every line. Now a listing stops at 100,000 messages or 8 MB, a listing line at
 * 510 bytes, and a message at twice its listed size + 1 MB, each with a failure that names the
 * limit; the whole `daemon --once` stays under 300 MB of peak RSS.
 */
const peakRssLimit = 300 * 1024 * 1024;
/** The old client grew without end here: the test stops it at this size (and fails). */
const runaway = 1024 * 1024 * 1024;

/** Writes `block` again and again, as fast as the client reads, until it goes away or `maxBytes` went out. */
async function flood(socket: Socket, block: Buffer, maxBytes = Infinity): Promise<void> {
  for (let sent = 0; !socket.destroyed && sent < maxBytes; sent += block.length) await writeAll(socket, block);
}

const uidlLines = (() => {
  const lines: string[] = [];
  for (let n = 1; lines.length < 16_000; n++) lines.push(`${n} 0000000${n}-endless-listing-of-a-hostile-server\r\n`);
  return Buffer.from(lines.join(''));
})();

/** `daemon --once` as a child process, with its peak RSS (VmHWM) read from /proc while it runs. */
async function runWithPeakRss(args: string[], env: Record<string, string>, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string; peakRss: number; ms: number; killed: string | null }> {
  const started = Date.now();
  const child = spawn(process.execPath, [binPath, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let peakRss = 0;
  let killed: string | null = null;
  const sample = setInterval(() => {
    try {
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (hwm) peakRss = Math.max(peakRss, Number(hwm[1]) * 1024);
    } catch {
      return; // it has just ended
    }
    if (peakRss > runaway) killed ??= `peak RSS passed ${runaway / 2 ** 20} MB`;
    if (Date.now() - started > timeoutMs) killed ??= `still running after ${timeoutMs / 1000} s`;
    if (killed) child.kill('SIGKILL');
  }, 50);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearInterval(sample);
  return { code, stdout, stderr, peakRss, ms: Date.now() - started, killed };
}

describe('POP3 servers whose answers never end', () => {
  const tempDir = useTempDirs();
  let pop3: Pop3TestServer;
  beforeAll(async () => {
    const message = Buffer.from('From: lee@partner.test\r\nSubject: listed small\r\n\r\nhi\r\n');
    pop3 = await startPop3Server({
      // UIDL lines, as fast as they are read, for ever.
      'endless-uidl@acme.test': { password: 'pw', messages: [], uidl: async (socket) => {
        await writeAll(socket, '+OK\r\n');
        await flood(socket, uidlLines);
      } },
      // A UIDL answer whose first line never ends.
      'endless-line@acme.test': { password: 'pw', messages: [], uidl: async (socket) => {
        await writeAll(socket, '+OK\r\n1 ');
        await flood(socket, Buffer.alloc(1024 * 1024, 'x'));
      } },
      // A message listed at 53 bytes, sent as 64 MB of lines (the old client took it all).
      'endless-retr@acme.test': { password: 'pw', messages: [{ uidl: 'liar-1', raw: message, retr: async (socket) => {
        await writeAll(socket, '+OK\r\n');
        await flood(socket, Buffer.from(`${'A'.repeat(998)}\r\n`.repeat(1024)), 64 * 1024 * 1024);
        await writeAll(socket, '.\r\n');
      } }] },
    });
  });
  afterAll(() => pop3?.close());

  it('each is cut at its limit with a failure naming it; daemon --once ends in seconds under 300 MB peak RSS', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const cli = async (args: string[], input?: string) => {
      const r = await runCli(args, { env, ...(input !== undefined ? { input } : {}) });
      expect(r.code, `mailctl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
    };
    await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await cli(['contacts', 'add', 'guest@acme.test', '--guest']);
    for (const table of ['uidl', 'line', 'retr']) {
      await cli(['tables', 'add', table]);
      await cli(['configure', 'inbound', table, '--protocol', 'pop3', '--host', '127.0.0.1', '--port', String(pop3.port), '--security', 'none', '--auth', 'password',
        '--username', `endless-${table}@acme.test`, '--secret-stdin', '--create-records', '--unknown-sender', 'guest', '--guest', 'guest@acme.test', '--after', 'keep', '--no-verify'], 'pw');
    }

    const run = await runWithPeakRss(['daemon', '--once', '--timeout', '5s', '--json'], env, 25_000);
    const said = `${run.killed ?? ''}\n${run.stdout}\n${run.stderr}`;
    expect(run.killed, said).toBeNull();
    expect(run.peakRss, said).toBeLessThan(peakRssLimit); // 123 MB seen here, in 0.7 s
    const accounts = new Map((JSON.parse(run.stdout) as { accounts: Array<{ table: string; status: string; error?: string }> }).accounts.map((a) => [a.table, a]));
    expect(accounts.get('uidl'), said).toMatchObject({ status: 'failed', error: expect.stringMatching(/UIDL answer went past 100,000 messages, the most mailctl reads of one listing/) });
    expect(accounts.get('line'), said).toMatchObject({ status: 'failed', error: expect.stringMatching(/a line longer than 510 bytes \(the UIDL answer\)/) });
    expect(said).toMatch(/Taking pop3:liar-1 \(RETR 1\) failed: the server sent more than \d+ bytes for a message it listed at \d+ \(the most taken is twice the listed size \+ 1 MB, and 1 GB at most\)/);
  }, 60_000);
});
