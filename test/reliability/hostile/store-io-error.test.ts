import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../../helpers/dovecot.js';
import { runCli, type CliResult } from '../../helpers/run-cli.js';

/**
 * Issue 14, disk errors other than a full disk: the message store on a disk that answers EIO.
 * A real one, made here (as root): an ext2 filesystem mounted `sync` on a loop device whose
 * backing file is then made immutable (chattr +i), so every write the store makes fails with
 * EIO. The backing file lives on an ext4 loop device of its own, since tmpfs may not take
 * chattr. Before, a put that failed before reading its content left the message waiting for
 * it for ever (the same hang as a full disk); now the poll fails at once with E_STORE_WRITE,
 * and once the disk is sound again the next run takes the mail.
 */
const user = 'eio@acme.test';
const stackTrace = /\n\s+at .+:\d+:\d+\)?(\n|$)/;

describe('the message store on a disk that answers EIO (issue 14)', () => {
  let dovecot: Dovecot;
  let base: string;
  const undo: Array<() => void> = [];
  let backing: string;
  let storeFs: string;

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('this test makes loop devices and mounts them: run it as root');
    if (!existsSync('/dev/loop-control')) throw new Error('this test needs loop devices (/dev/loop-control is missing: modprobe loop)');
    dovecot = await startDovecot({ users: [{ name: user, password: 'pw' }] });
    base = mkdtempSync(join(tmpdir(), 'mailctl-eio-'));
    const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' }).trim();
    // The outer filesystem: it holds the inner one's backing file and lets it be made immutable.
    const outerImg = join(base, 'outer.img');
    sh('truncate', ['-s', '40M', outerImg]);
    const outerLoop = sh('losetup', ['-f', '--show', outerImg]);
    undo.unshift(() => sh('losetup', ['-d', outerLoop]));
    sh('mkfs.ext4', ['-q', outerLoop]);
    const outer = join(base, 'outer');
    mkdirSync(outer);
    sh('mount', [outerLoop, outer]);
    undo.unshift(() => sh('umount', [outer]));
    // The store's filesystem: ext2 (no journal to turn the first error into a read-only
    // remount), every write synchronous (the error reaches the write, not a later flush).
    backing = join(outer, 'store.img');
    sh('truncate', ['-s', '16M', backing]);
    sh('mkfs.ext2', ['-q', '-F', backing]);
    const storeLoop = sh('losetup', ['-f', '--show', backing]);
    undo.unshift(() => sh('losetup', ['-d', storeLoop]));
    storeFs = join(base, 'store');
    mkdirSync(storeFs);
    sh('mount', ['-t', 'ext2', '-o', 'sync,errors=continue', storeLoop, storeFs]);
    undo.unshift(() => sh('umount', [storeFs]));
    undo.unshift(() => sh('chattr', ['-i', backing]));
  });
  afterAll(async () => {
    for (const step of undo) {
      try {
        step();
      } catch (error) {
        console.warn(`cleanup: ${(error as Error).message}`);
      }
    }
    if (base) rmSync(base, { recursive: true, force: true });
    await dovecot?.stop();
  });

  it('daemon --once fails the poll at once with E_STORE_WRITE (no hang, no lock left), and takes the mail once the disk works', async () => {
    const home = mkdtempSync(join(tmpdir(), 'mailctl-eio-home-'));
    try {
      const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
      const cli = async (args: string[], input?: string): Promise<CliResult> => {
        const r = await runCli(args, { env, timeoutMs: 30_000, ...(input !== undefined ? { input } : {}) });
        expect(r.code, `mailctl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
        return r;
      };
      await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
      await cli(['tables', 'add', 'contracts']);
      await cli(['contacts', 'add', 'lee@partner.test', '--can-create', 'contracts']);
      await cli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none',
        '--auth', 'password', '--username', user, '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore', '--after', 'mark-read'], 'pw');
      // The database stays on a sound disk; only the message store is on the failing one.
      mkdirSync(join(storeFs, 'messages'), { mode: 0o700 });
      symlinkSync(join(storeFs, 'messages'), join(home, 'messages'));

      const scan = randomBytes(900 * 1024).toString('base64').replace(/.{76}/g, '$&\r\n');
      const raw = Buffer.from(['From: lee@partner.test', 'To: contracts@acme.test', 'Subject: Scan', 'Message-ID: <eio-1@partner.test>', 'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="b"', '', '--b', 'Content-Type: text/plain', '', 'Attached.', '--b',
        'Content-Type: application/pdf', 'Content-Transfer-Encoding: base64', 'Content-Disposition: attachment; filename="scan.pdf"', '', scan, '--b--', ''].join('\r\n'));
      // A store in use: the first message is taken while the disk works, the second after it fails.
      const first = Buffer.from(['From: lee@partner.test', 'To: contracts@acme.test', 'Subject: Hello', 'Message-ID: <eio-0@partner.test>', '', 'Hello.', ''].join('\r\n'));
      dovecot.deliver(user, first);
      await cli(['daemon', '--once']);
      dovecot.deliver(user, raw);

      execFileSync('chattr', ['+i', backing]);
      const started = Date.now();
      const run = await runCli(['daemon', '--once', '--json'], { env, timeoutMs: 35_000 }).catch((error: Error) => ({ code: -1, stdout: '', stderr: error.message }));
      const seconds = (Date.now() - started) / 1000;
      const log = `exit ${run.code} after ${seconds.toFixed(1)} s\n${run.stdout.slice(0, 2000)}\n${run.stderr.slice(0, 2000)}`;
      expect(seconds, log).toBeLessThan(30);
      expect(run.code, log).toBe(1);
      const account = (JSON.parse(run.stdout) as { accounts: Array<{ status: string; error: string; code?: string }> }).accounts[0]!;
      expect(account, log).toMatchObject({ status: 'failed', code: 'E_STORE_WRITE' });
      expect(account.error, log).toMatch(/The message store could not be written .*EIO/);
      expect(run.stderr, log).not.toMatch(stackTrace);
      expect(existsSync(join(home, 'daemon.lock')), log).toBe(false);
      expect(dovecot.messages(user).map((m) => m.flags).sort(), log).toEqual(['', 'S']);

      // The disk works again: a run takes the message, whole. The kernel reports a write error of
      // the filesystem's own blocks to a later writer once more, so the first run or two after the
      // repair may still fail — the same way, promptly — as a cron's next runs would.
      execFileSync('chattr', ['-i', backing]);
      let rest: CliResult | undefined;
      for (let attempt = 1; attempt <= 3 && rest?.code !== 0; attempt++) {
        const at = Date.now();
        rest = await runCli(['daemon', '--once', '--json'], { env, timeoutMs: 35_000 });
        expect(Date.now() - at).toBeLessThan(30_000);
        if (rest.code !== 0) expect(JSON.parse(rest.stdout).accounts[0], `${rest.stdout}\n${rest.stderr}`).toMatchObject({ status: 'failed', code: 'E_STORE_WRITE' });
      }
      expect(rest!.code, `${rest!.stdout}\n${rest!.stderr}`).toBe(0);
      const db = new BetterSqlite3(join(home, 'mailctl.db'), { readonly: true, fileMustExist: true });
      try {
        expect(db.prepare(`SELECT raw_hash AS rawHash FROM communications WHERE direction = 'inbound' ORDER BY id`).all()).toEqual([first, raw].map((m) => ({ rawHash: createHash('sha256').update(m).digest('hex') })));
      } finally {
        db.close();
      }
      expect(dovecot.messages(user).map((m) => m.flags)).toEqual(['S', 'S']);
    } finally {
      execFileSync('chattr', ['-i', backing]);
      rmSync(home, { recursive: true, force: true });
    }
  }, 90_000);
});
