import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bySize } from '../helpers/reliability-tier.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const lockModule = fileURLToPath(new URL('../../dist/daemon/daemon-lock.js', import.meta.url));

/**
 * One contender: waits for the common start instant, calls acquireDaemonLock once, and if it
 * got the lock holds it for `holdMs` before releasing. Prints one JSON line: when it held the
 * lock (its own clock, ms since the epoch), or the error code it was refused with.
 */
const contender = `
const { acquireDaemonLock } = await import(process.env.LOCK_MODULE);
const start = Number(process.env.START_AT);
while (Date.now() < start) await new Promise((r) => setTimeout(r, 1));
while (Date.now() < start + 1) {} // the same instant, give or take the scheduler
let lock;
try { lock = acquireDaemonLock(process.env.LOCK_PATH, new Date()); }
catch (error) { console.log(JSON.stringify({ refused: error.code ?? String(error) })); process.exit(0); }
const from = Date.now();
await new Promise((r) => setTimeout(r, Number(process.env.HOLD_MS)));
const to = Date.now();
lock.release();
console.log(JSON.stringify({ from, to }));
`;

function runContender(env: Record<string, string>): Promise<{ from?: number; to?: number; refused?: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', contender], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim())) : reject(new Error(`contender exited ${code}: ${out}${err}`))));
  });
}

/**
 * Issue 14, attacker round: after a kill -9 or a reboot the daemon lock holds a dead pid, and
 * systemd's daemon and a cron `daemon --once` start together. Both saw the dead holder and both
 * removed "the stale lock" — the second removing the first's fresh one — so two daemons ran
 * (double sends). The takeover now runs under daemon.lock.break: exactly one holder, always.
 */
describe('daemon lock takeover under a race', () => {
  const tempDir = useTempDirs();
  const rounds = bySize(40, 12);
  const contenders = 6;

  it(`${contenders} processes taking over a dead daemon's lock at the same instant: never two holders (${rounds} rounds)`, async () => {
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => dead.on('exit', resolve));
    const failures: string[] = [];
    for (let round = 0; round < rounds; round++) {
      const home = tempDir();
      const lockPath = join(home, 'daemon.lock');
      // What the killed daemon left (a daemon of the version before carries no token).
      writeFileSync(lockPath, JSON.stringify(round % 2 ? { pid: dead.pid, host: hostname(), since: '2026-11-30T10:00:00.000Z', token: 'dead' } : { pid: dead.pid, host: hostname(), startedAt: '2026-11-30T10:00:00.000Z' }));
      const env = { LOCK_MODULE: lockModule, LOCK_PATH: lockPath, START_AT: String(Date.now() + 800), HOLD_MS: '700' };
      const results = await Promise.all(Array.from({ length: contenders }, () => runContender(env)));
      const held = results.filter((r) => r.from !== undefined).sort((a, b) => a.from! - b.from!);
      const refused = results.filter((r) => r.refused !== undefined);
      for (const r of refused) if (r.refused !== 'E_DAEMON_RUNNING') failures.push(`round ${round}: refused with ${r.refused}, not E_DAEMON_RUNNING`);
      if (held.length === 0) failures.push(`round ${round}: nobody took the lock`);
      // Holders one after another are fine (a late starter after the first released); at the same time, never.
      if (held.some((h, i) => i > 0 && h.from! < held[i - 1]!.to!)) failures.push(`round ${round}: holders at the same time ${JSON.stringify(held)}`);
      expect(existsSync(lockPath)).toBe(false); // released by its holder
      expect(existsSync(`${lockPath}.break`)).toBe(false);
    }
    expect(failures).toEqual([]);
  }, bySize(300_000, 60_000));

  it('a live holder is named and kept; a lock from before a reboot is taken over though its pid lives again', async () => {
    const home = tempDir();
    const lockPath = join(home, 'daemon.lock');
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const env = { LOCK_MODULE: lockModule, LOCK_PATH: lockPath, START_AT: '0', HOLD_MS: '10' };
    // This test process stands for a running daemon.
    writeFileSync(lockPath, JSON.stringify({ pid: process.pid, host: hostname(), since: '2026-11-30T10:00:00.000Z', token: 'live', boot: bootId }));
    expect(await runContender(env)).toEqual({ refused: 'E_DAEMON_RUNNING' });
    expect(readFileSync(lockPath, 'utf8')).toContain('"token":"live"');
    // The same pid, taken in an earlier boot (after a reboot, pids come round again: systemd starts things in the same order).
    writeFileSync(lockPath, JSON.stringify({ pid: process.pid, host: hostname(), since: '2026-11-30T10:00:00.000Z', token: 'before-reboot', boot: '00000000-0000-4000-8000-000000000000' }));
    expect(await runContender(env)).toMatchObject({ from: expect.any(Number) });
    expect(existsSync(lockPath)).toBe(false);
  }, 30_000);
});
