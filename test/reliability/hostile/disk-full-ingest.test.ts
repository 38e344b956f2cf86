import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../../helpers/dovecot.js';
import { binPath, runCli, type CliResult } from '../../helpers/run-cli.js';
import { bySize } from '../../helpers/reliability-tier.js';

/**
 * Issue 14, disk full during ingest (found after the first round): MAILCTL_HOME on a 2 MB tmpfs,
 * a ~1.6 MB message, the disk filled to about 1 MB free. `daemon --once` exited 13 (Node's
 * "unsettled top-level await": a promise that never settles) with no output and daemon.lock
 * left behind; E_STORE_FULL came once in 8. The loop daemon went silent for good, even after the
 * space was freed. A put that failed (ENOSPC) stopped reading what it was given, so the raw copy
 * or the attachment stream it was fed filled up and the message waited for it for ever.
 *
 * Three shapes — a message with an attachment, one that is only a base64
 * application/octet-stream body, a text-only one — each at several levels of free space (the
 * race depends on where the write fails): every run ends promptly with E_STORE_FULL (or the
 * database's E_DB_FULL when the rows are what no longer fit), exit 1, no lock and no temporary
 * file left behind; once the space is freed the next run takes the message, whole.
 */
const kib = 1024;
const mib = 1024 * kib;
const stackTrace = /\n\s+at .+:\d+:\d+\)?(\n|$)/;

interface Shape {
  name: string;
  user: string;
  build: (messageId: string) => Buffer;
  /** The typed errors a run may end with for this shape. */
  codes: RegExp;
}

/** Random bytes as base64 lines of 76: what a mailer sends, and nothing the store can compress away. */
const base64Lines = (bytes: number) => randomBytes(bytes).toString('base64').replace(/.{76}/g, '$&\r\n');

const shapes: Shape[] = [
  {
    name: 'a message with an attachment',
    user: 'scans@acme.test',
    codes: /^E_STORE_FULL$/,
    build: (id) => Buffer.from(['From: lee@partner.test', 'To: contracts@acme.test', 'Subject: Scan', `Message-ID: <${id}>`, 'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b"', '', '--b', 'Content-Type: text/plain', '', 'The scan is attached.', '--b',
      'Content-Type: application/pdf', 'Content-Transfer-Encoding: base64', 'Content-Disposition: attachment; filename="scan.pdf"', '',
      base64Lines(1200 * kib), '--b--', ''].join('\r\n')),
  },
  {
    name: 'a message that is only a base64 application/octet-stream body',
    user: 'blobs@acme.test',
    codes: /^E_STORE_FULL$/,
    build: (id) => Buffer.from(['From: lee@partner.test', 'To: contracts@acme.test', 'Subject: Blob', `Message-ID: <${id}>`, 'MIME-Version: 1.0',
      'Content-Type: application/octet-stream', 'Content-Transfer-Encoding: base64', '', base64Lines(1200 * kib), ''].join('\r\n')),
  },
  {
    name: 'a text-only message',
    user: 'texts@acme.test',
    // 1.6 MB of text: the raw copy may fit in the store and the rows (text, note, the log) not.
    codes: /^E_(STORE|DB)_FULL$/,
    build: (id) => Buffer.from(['From: lee@partner.test', 'To: contracts@acme.test', 'Subject: Report', `Message-ID: <${id}>`, 'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=us-ascii', '', base64Lines(1200 * kib), ''].join('\r\n')),
  },
];

/** Bytes left free when the daemon runs: less than the message needs, by more or less. */
const freeLevels = bySize([64 * kib, 256 * kib, 512 * kib, 768 * kib, mib, 1280 * kib], [64 * kib, 512 * kib, mib]);
/** Each level more than once: where the write fails (raw copy or attachment, which chunk) varies from run to run. */
const rounds = bySize(4, 2);

describe('disk full during ingest: the poll fails promptly with E_STORE_FULL, never hangs (issue 14)', () => {
  let dovecot: Dovecot;
  const mounts: string[] = [];
  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('this test mounts a tmpfs (mount -t tmpfs): run it as root');
    dovecot = await startDovecot({ users: [...shapes.map((s) => ({ name: s.user, password: 'pw' })), { name: 'loop@acme.test', password: 'pw' }] });
  });
  afterAll(async () => {
    for (const dir of mounts) {
      try {
        execFileSync('umount', [dir]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    await dovecot?.stop();
  });

  /** A KB whose home is a fresh 2 MB tmpfs, with one IMAP account for `user`. */
  async function smallHome(user: string): Promise<{ home: string; env: Record<string, string>; cli: (args: string[], input?: string) => Promise<CliResult> }> {
    const home = mkdtempSync(join(tmpdir(), 'mailctl-full-ingest-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', home]);
    mounts.push(home);
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    const cli = async (args: string[], input?: string) => {
      const r = await runCli(args, { env, timeoutMs: 30_000, ...(input !== undefined ? { input } : {}) });
      expect(r.code, `mailctl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
      return r;
    };
    await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await cli(['tables', 'add', 'contracts']);
    await cli(['contacts', 'add', 'lee@partner.test', '--can-create', 'contracts']);
    await cli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none',
      '--auth', 'password', '--username', user, '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore', '--after', 'mark-read'], 'pw');
    return { home, env, cli };
  }

  const free = (home: string) => { const s = statfsSync(home); return s.bavail * s.bsize; };
  /** A filler file that leaves about `bytes` free; removing it is "freeing space". */
  const fill = (home: string, bytes: number) => {
    const filler = join(home, `filler-${randomBytes(4).toString('hex')}`);
    writeFileSync(filler, Buffer.alloc(Math.max(0, free(home) - bytes)));
    return filler;
  };

  for (const shape of shapes) {
    it(`${shape.name} (~1.6 MB on a 2 MB disk): every fill level fails the poll with a typed error in bounded time; freed, the next run takes it`, async () => {
      const { home, env } = await smallHome(shape.user);
      const messageId = `full-${shape.user.split('@')[0]}@partner.test`;
      const raw = shape.build(messageId);
      dovecot.deliver(shape.user, raw);
      const seen: string[] = [];
      for (let round = 0; round < rounds; round++) {
        for (const level of freeLevels) {
          const filler = fill(home, level);
          const started = Date.now();
          const run = await runCli(['daemon', '--once', '--json'], { env, timeoutMs: 35_000 }).catch((error: Error) => ({ code: -1, stdout: '', stderr: error.message }));
          const seconds = (Date.now() - started) / 1000;
          const log = `${shape.name}, ${(level / kib).toFixed(0)} KB free (round ${round + 1}): exit ${run.code} after ${seconds.toFixed(1)} s\n${run.stdout.slice(0, 2000)}\n${run.stderr.slice(0, 2000)}`;
          expect(seconds, log).toBeLessThan(30);
          // 13 was Node's "unsettled top-level await": the run hung on a promise and gave up silently.
          expect(run.code, log).toBe(1);
          const account = (JSON.parse(run.stdout) as { accounts: Array<{ status: string; error?: string; code?: string }> }).accounts[0]!;
          expect(account.status, log).toBe('failed');
          expect(account.code, log).toMatch(shape.codes);
          expect(account.error, log).toMatch(/disk is full/);
          expect(run.stderr, log).toMatch(/disk is full/);
          expect(run.stderr, log).not.toMatch(stackTrace);
          expect(existsSync(join(home, 'daemon.lock')), `daemon.lock left behind\n${log}`).toBe(false);
          expect(leftovers(home), `temporary files left behind\n${log}`).toEqual([]);
          expect(dovecot.messages(shape.user).map((m) => m.flags), `not stored: still unread\n${log}`).toEqual(['']);
          seen.push(`${(level / kib).toFixed(0)}K:${account.code}:${seconds.toFixed(1)}s`);
          rmSync(filler);
        }
      }
      console.info(`${shape.name}: ${seen.join(' ')}`);

      // Space again (the message needs more than the whole 2 MB: its raw copy and its attachment
      // are both random bytes): the next run takes it, whole.
      execFileSync('mount', ['-o', 'remount,size=8m', home]);
      const rest = await runCli(['daemon', '--once', '--json'], { env, timeoutMs: 30_000 });
      expect(rest.code, `${rest.stdout}\n${rest.stderr}`).toBe(0);
      expect(committed(home)).toEqual([{ messageId, rawHash: createHash('sha256').update(raw).digest('hex') }]);
      expect(dovecot.messages(shape.user).map((m) => m.flags)).toEqual(['S']);
      expect(existsSync(join(home, 'daemon.lock'))).toBe(false);
    }, bySize(600_000, 120_000));
  }

  it('the loop daemon reports the full disk, status says so, and the next poll after space is freed takes the mail', async () => {
    const { home, env, cli } = await smallHome('loop@acme.test');
    await cli(['config', 'set', 'inbound_check_frequency', '5s']);
    const raw = shapes[0]!.build('full-loop@partner.test');
    dovecot.deliver('loop@acme.test', raw);
    const filler = fill(home, mib);
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
    try {
      const failures = () => output.split('\n').filter((l) => l.includes('polling contracts failed') && l.includes('"code":"E_STORE_FULL"')).length;
      await waitFor('the poll fails with the full disk', () => failures() >= 1, 30_000);
      expect(output).not.toMatch(stackTrace);
      // status tells the truth meanwhile: the daemon is up, and its last poll failed for the disk.
      const status = JSON.parse((await cli(['status', '--json'])).stdout) as { daemon: { state: string }; accounts: Array<{ lastError: string | null }> };
      expect(status.daemon.state).toBe('up');
      expect(status.accounts[0]!.lastError).toMatch(/The message store's disk is full/);
      rmSync(filler);
      execFileSync('mount', ['-o', 'remount,size=8m', home]);
      await waitFor('the mail is taken once space is freed', () => committed(home).length === 1, 60_000);
      expect(committed(home)).toEqual([{ messageId: 'full-loop@partner.test', rawHash: createHash('sha256').update(raw).digest('hex') }]);
    } finally {
      daemon.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'late'>((r) => setTimeout(() => r('late'), 15_000))]);
      if (code === 'late') daemon.kill('SIGKILL');
      expect(code, output.slice(-4000)).toBe(0);
    }
    expect(existsSync(join(home, 'daemon.lock'))).toBe(false);
  }, 120_000);
});

/** Temporary files the message store left behind. */
function leftovers(home: string): string[] {
  const tmp = join(home, 'messages', 'tmp');
  return existsSync(tmp) ? readdirSync(tmp) : [];
}

/** The inbound communications committed so far: Message-ID and the raw blob's name. */
function committed(home: string): Array<{ messageId: string; rawHash: string }> {
  const db = new BetterSqlite3(join(home, 'mailctl.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(`SELECT message_id AS messageId, raw_hash AS rawHash FROM communications WHERE direction = 'inbound'`).all() as Array<{ messageId: string; rawHash: string }>;
  } finally {
    db.close();
  }
}
