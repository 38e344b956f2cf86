import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { acquireFileLock } from '../../src/fs/file-lock.js';
import { replaceFile } from '../../src/fs/replace-file.js';
import { FsMessageStore } from '../../src/store/fs-message-store.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';

/**
 * Issue 14, item 10 (disk full, read-only home): the home is a small tmpfs mounted by the
 * test (as root), filled to the last block, then remounted read-only. Config writes, secret
 * writes, database writes and message store writes are user errors that name the path and
 * the fix — never "a bug" (exit 70) — and leave no temporary or lock file behind.
 */
const stackTrace = /\n\s+at .+:\d+:\d+\)?(\n|$)/;

function mountTmpfs(sizeKb: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailctl-fullhome-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k,mode=0700`, 'tmpfs', dir]);
  return dir;
}

/** Writes zeros to `path` until the filesystem says ENOSPC. */
function fill(path: string): void {
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(4096);
  try {
    for (;;) writeSync(fd, block);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
}

function expectUserError(result: CliResult, code: number, words: RegExp, what: string): void {
  expect(result.code, `${what}: ${result.stdout}${result.stderr}`).toBe(code);
  expect(result.stderr, what).toMatch(words);
  expect(result.stderr, what).not.toMatch(/unexpected error|a bug/);
  expect(result.stderr, what).not.toMatch(stackTrace);
}

describe('a full disk and a read-only home are the admin\'s to fix, not bugs (issue 14, item 10)', () => {
  const mounts: string[] = [];
  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('this test mounts a tmpfs (mount -t tmpfs): run it as root');
  });
  afterEach(() => {
    for (const dir of mounts.splice(0)) {
      try {
        execFileSync('umount', [dir]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('ENOSPC then EROFS: config set, keys rotate, records add and the message store say which path and what to do, and leave nothing behind', async () => {
    const home = mountTmpfs(3 * 1024);
    mounts.push(home);
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    for (const args of [['init', '--name', 'acme', '--url', 'https://records.acme.test', '--environment', 'production'], ['tables', 'add', 'contracts']]) {
      const result = await runCli(args, { env });
      expect(result.code, result.stderr).toBe(0);
    }
    // The message store's folders exist, as after the first message.
    const store = new FsMessageStore(join(home, 'messages'));
    const first = store.batch();
    await first.put(Buffer.from('a first message'));
    await first.commit();
    const config = readFileSync(join(home, 'config.json'), 'utf8');
    const secrets = readFileSync(join(home, 'secrets.enc'), 'utf8');
    const files = () => readdirSync(home).filter((n) => n !== 'fill').sort();
    const tmpFiles = () => readdirSync(join(home, 'messages', 'tmp'));
    const before = files();

    fill(join(home, 'fill'));
    const set = await runCli(['config', 'set', 'email_enabled', 'false'], { env });
    expectUserError(set, 3, /The disk is full: .*\(\/.*config\.json(\.lock)?\); nothing was changed\./, 'config set, disk full');
    expect(set.stderr).toContain(`df -h ${home}`);
    const rotate = await runCli(['keys', 'rotate'], { env });
    expectUserError(rotate, 3, /The disk is full/, 'keys rotate, disk full');
    const add = await runCli(['records', 'add', '--table', 'contracts', '--title', 'x'.repeat(20_000)], { env });
    expectUserError(add, 5, new RegExp(`The database's disk is full \\(${home}/mailctl\\.db\\)`), 'records add, disk full');
    const put = store.batch();
    await expect(put.put(Buffer.alloc(64 * 1024, 1))).rejects.toMatchObject({ code: 'E_STORE_FULL' });
    expect(files()).toEqual(before.concat(files().filter((n) => /^mailctl\.db-(wal|shm)$/.test(n) && !before.includes(n))).sort());
    expect(tmpFiles()).toEqual([]);
    expect(readFileSync(join(home, 'config.json'), 'utf8')).toBe(config);
    expect(readFileSync(join(home, 'secrets.enc'), 'utf8')).toBe(secrets);

    rmSync(join(home, 'fill'));
    execFileSync('mount', ['-o', 'remount,ro', home]);
    const roSet = await runCli(['config', 'set', 'email_enabled', 'false'], { env });
    expectUserError(roSet, 3, /The filesystem is read-only: .*config\.json/, 'config set, read-only');
    expect(roSet.stderr).toContain(`findmnt -T ${home}`);
    const roRotate = await runCli(['keys', 'rotate'], { env });
    expectUserError(roRotate, 3, /The filesystem is read-only/, 'keys rotate, read-only');
    const roAdd = await runCli(['records', 'add', '--table', 'contracts', '--title', 'x'], { env });
    expectUserError(roAdd, 5, new RegExp(`The filesystem is read-only: the database could not be written \\(${home}/mailctl\\.db\\)`), 'records add, read-only');
    const roJson = JSON.parse((await runCli(['--json', 'config', 'set', 'email_enabled', 'false'], { env })).stdout);
    expect(roJson.error).toMatchObject({ code: 'E_READ_ONLY', reason: 'read-only' });
    const roPut = store.batch();
    await expect(roPut.put(Buffer.from('another message'))).rejects.toMatchObject({ code: 'E_STORE_READ_ONLY' });
    expect(tmpFiles()).toEqual([]);
    expect(readFileSync(join(home, 'config.json'), 'utf8')).toBe(config);
  }, 60_000);

  it('replaceFile and the lock file on a full disk: the old file stays whole, and no temporary or lock file is left', () => {
    const dir = mountTmpfs(1024);
    mounts.push(dir);
    const target = join(dir, 'config.json');
    writeFileSync(target, '{"version":1}', { mode: 0o600 });
    fill(join(dir, 'fill'));
    expect(() => replaceFile(target, 'x'.repeat(256 * 1024), { mode: 0o600, what: 'the config file', exitCode: 3 }))
      .toThrow(expect.objectContaining({ code: 'E_DISK_FULL', exitCode: 3, path: target }));
    expect(() => acquireFileLock(`${target}.lock`, { what: 'the config file', exitCode: 3 }))
      .toThrow(expect.objectContaining({ code: 'E_DISK_FULL', exitCode: 3 }));
    expect(readFileSync(target, 'utf8')).toBe('{"version":1}');
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'fill']);
  });
});
