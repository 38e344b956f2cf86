// Runs a node script as its own process and measures it from outside: wall time from spawn
// to exit, and peak RSS and CPU time through the record-peak-rss.js preload.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const preload = fileURLToPath(new URL('./record-peak-rss.js', import.meta.url));

/** Spawns `node [args]` with exactly `env`; resolves with { seconds, peakRss, cpuSeconds, code, stdout, stderr }. */
export async function runMeasured(args, env) {
  const dir = mkdtempSync(join(tmpdir(), 'mailctl-bench-rss-'));
  const peakFile = join(dir, 'peak');
  try {
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', preload, ...args], { env: { ...env, BENCH_PEAK_RSS_FILE: peakFile }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise((resolve, reject) => { child.on('error', reject); child.on('close', resolve); });
    const seconds = (performance.now() - started) / 1000;
    let usage = { peakRss: NaN, cpuSeconds: NaN };
    try { usage = JSON.parse(readFileSync(peakFile, 'utf8')); } catch { /* the process died before its exit hook */ }
    return { seconds, ...usage, code, stdout, stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
