import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { binPath, runCli, type CliResult } from '../../helpers/run-cli.js';
import { startSmtpSink, type SmtpSink } from '../../helpers/smtp-sink.js';

/**
 * Issue 14, disk full (the kind found during ingest, looked for where else the store is
 * written): a put that fails must let go of what fed it. Outbound, the daemon builds each
 * queued message as a stream that reads its attachment from the store: a put that failed on a
 * full disk left that attachment's file open, one more at every retry of every such message
 * (a daemon that runs for weeks runs out of file descriptors). `send --attach` left the
 * attachments stored before the one that failed in the store's temporary folder.
 */
const kib = 1024;

describe('disk full while storing outbound mail: nothing held open, nothing left behind (issue 14)', () => {
  const mounts: string[] = [];
  let sink: SmtpSink | undefined;
  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('this test mounts a tmpfs (mount -t tmpfs): run it as root');
  });
  afterEach(async () => {
    await sink?.close();
    sink = undefined;
  });
  afterAll(() => {
    for (const dir of mounts) {
      try {
        execFileSync('umount', [dir]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  /** A KB on a fresh 3 MB tmpfs with one record, sending through a real SMTP server. */
  async function smallHome(): Promise<{ home: string; env: Record<string, string>; cli: (args: string[]) => Promise<CliResult> }> {
    const home = mkdtempSync(join(tmpdir(), 'mailctl-full-out-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m,mode=0700', 'tmpfs', home]);
    mounts.push(home);
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    const cli = async (args: string[]) => {
      const r = await runCli(args, { env, timeoutMs: 30_000 });
      expect(r.code, `mailctl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
      return r;
    };
    sink = await startSmtpSink();
    await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await cli(['tables', 'add', 'contracts']);
    await cli(['records', 'add', '--table', 'contracts', '--title', 'Lease']);
    await cli(['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'none', '--from', 'records@acme.test']);
    return { home, env, cli };
  }
  const free = (home: string) => { const s = statfsSync(home); return s.bavail * s.bsize; };
  const fill = (home: string, bytes: number) => {
    const filler = join(home, 'filler');
    writeFileSync(filler, Buffer.alloc(Math.max(0, free(home) - bytes)));
    return filler;
  };
  const temporaries = (home: string) => (existsSync(join(home, 'messages', 'tmp')) ? readdirSync(join(home, 'messages', 'tmp')) : []);

  it('send --attach: the attachment that does not fit fails with E_STORE_FULL, and the ones stored before it are not left behind', async () => {
    const { home, env } = await smallHome();
    const files = mkdtempSync(join(tmpdir(), 'mailctl-attach-'));
    try {
      writeFileSync(join(files, 'plan.pdf'), randomBytes(600 * kib));
      writeFileSync(join(files, 'scan.pdf'), randomBytes(900 * kib));
      const filler = fill(home, 1100 * kib);
      const sent = await runCli(['send', '--table', 'contracts', '--record', '1', '--to', 'pat@partner.test', '--subject', 'Plans', '--body', 'Attached.',
        '--attach', join(files, 'plan.pdf'), '--attach', join(files, 'scan.pdf')], { env, timeoutMs: 30_000 });
      expect(sent.code, sent.stderr).toBe(5);
      expect(sent.stderr).toMatch(/The message store's disk is full/);
      expect(temporaries(home), 'the first attachment, stored before the second failed').toEqual([]);
      rmSync(filler);
    } finally {
      rmSync(files, { recursive: true, force: true });
    }
  });

  it('the daemon deferring a message it cannot store keeps none of its attachment open, retry after retry, and sends it once there is space', async () => {
    const { home, env, cli } = await smallHome();
    const files = mkdtempSync(join(tmpdir(), 'mailctl-attach-'));
    writeFileSync(join(files, 'scan.pdf'), randomBytes(700 * kib));
    await cli(['send', '--table', 'contracts', '--record', '1', '--to', 'pat@partner.test', '--subject', 'Scan', '--body', 'Attached.', '--attach', join(files, 'scan.pdf')]);
    rmSync(files, { recursive: true, force: true });
    await cli(['config', 'set', 'outbound_retry_interval', '1s']);
    // Room for the message's first 256 KB (read from the attachment) but not for the message.
    const filler = fill(home, 400 * kib);

    const daemon = spawn(process.execPath, [binPath, 'daemon', '--tick', '1s', '--json'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    daemon.stdout.on('data', (d: Buffer) => (output += d.toString()));
    daemon.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => daemon.on('close', (code) => resolve(code)));
    const waitFor = async (what: string, test: () => boolean, ms: number) => {
      const until = Date.now() + ms;
      while (!test()) {
        if (Date.now() > until) throw new Error(`${what}: not within ${ms / 1000} s\n${output.slice(-4000)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    /** The daemon's open files in the message store's objects (what it reads attachments from). */
    const openStoreFiles = () => readdirSync(`/proc/${daemon.pid}/fd`).filter((fd) => {
      try {
        return readlinkSync(`/proc/${daemon.pid}/fd/${fd}`).startsWith(join(home, 'messages', 'objects'));
      } catch {
        return false;
      }
    }).length;
    try {
      const deferrals = () => output.split('\n').filter((l) => l.includes('outbound attempt failed') && /disk is full/.test(l)).length;
      await waitFor('four deferrals for the full disk', () => deferrals() >= 4, 30_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(openStoreFiles(), `files of the store the daemon still holds open after ${deferrals()} failed attempts\n${output.slice(-2000)}`).toBe(0);
      expect(temporaries(home)).toEqual([]);
      rmSync(filler);
      await waitFor('the message is sent once there is space', () => sink!.messages.length === 1, 30_000);
      expect(sink!.messages[0]!.raw.includes(Buffer.from('filename="scan.pdf"'))).toBe(true);
    } finally {
      daemon.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'late'>((r) => setTimeout(() => r('late'), 15_000))]);
      if (code === 'late') daemon.kill('SIGKILL');
      expect(code, output.slice(-4000)).toBe(0);
    }
  }, 90_000);
});
