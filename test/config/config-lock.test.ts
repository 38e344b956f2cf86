import { spawn } from 'node:child_process';
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

/**
 * Issue 14, item 9: the config lock (config.json.lock, O_EXCL, holding the taker's pid).
 * A live holder is waited for — at most 10 s — and then named in a clear error, nothing
 * changed; a holder whose process is gone (kill -9) is taken over at once.
 */
describe('the config lock', () => {
  const tempDir = useTempDirs();

  it('a live holder makes config set wait and then fail naming it (exit 3, nothing written); a dead or half-written one is taken over', async () => {
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    expect((await runCli(['init', '--name', 'acme', '--url', 'https://records.acme.test', '--environment', 'production'], { env })).code).toBe(0);
    const lock = join(home, 'config.json.lock');
    const config = () => JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')) as { globals?: Record<string, string> };

    // Live: a process that holds it (this one, as a stand-in for a mailctl in the middle of a write).
    writeFileSync(lock, JSON.stringify({ pid: process.pid, host: hostname(), since: '2026-11-30T10:00:00.000Z', token: 'live' }));
    const started = Date.now();
    const waited = await runCli(['--json', 'config', 'set', 'email_enabled', 'false'], { env, timeoutMs: 30_000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(9_500);
    expect(waited.code).toBe(3);
    const error = JSON.parse(waited.stdout).error;
    expect(error).toMatchObject({ code: 'E_CONFIG_LOCKED', lock, holderPid: process.pid });
    expect(error.message).toContain(`The config file is being changed by another mailctl (pid ${process.pid} on ${hostname()}`);
    expect(error.fix).toContain(`remove ${lock}`);
    expect(config().globals?.email_enabled).toBeUndefined();
    expect(readFileSync(lock, 'utf8')).toContain('"token":"live"'); // a live holder's lock is never pushed aside

    // Dead: a pid that has exited.
    const child = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => child.on('exit', resolve));
    writeFileSync(lock, JSON.stringify({ pid: child.pid, host: hostname(), since: '2026-11-30T10:00:00.000Z', token: 'dead' }));
    const taken = await runCli(['config', 'set', 'email_enabled', 'false'], { env });
    expect(taken.code, taken.stderr).toBe(0);
    expect(config().globals?.email_enabled).toBe('false');
    expect(existsSync(lock)).toBe(false);

    // Half-written: empty, from a taker killed between creating and writing it, a while ago.
    writeFileSync(lock, '');
    utimesSync(lock, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    expect((await runCli(['config', 'set', 'email_enabled', 'true'], { env })).code).toBe(0);
    expect(config().globals?.email_enabled).toBe('true');
    expect(existsSync(lock)).toBe(false);
  }, 60_000);
});
