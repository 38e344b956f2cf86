import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { binPath } from './run-cli.js';

export interface MeasuredRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The child's peak resident set (VmHWM), bytes. */
  peakBytes: number;
  /** True when it was killed for going over `killAboveBytes`. */
  killed: boolean;
  ms: number;
}

/** VmHWM of a process, bytes (0 once it is gone). */
function peakOf(pid: number): number {
  try {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs the built CLI and measures its peak RSS: /proc/<pid>/status VmHWM (the kernel's own
 * high-water mark, so a peak between two reads is still seen), read every 20 ms: only a rise
 * in the last 20 ms before exit can be missed. A run that goes over `killAboveBytes` is killed there, so a test of unbounded
 * memory fails without taking the machine's memory with it.
 */
export function runCliMeasured(args: string[], options: { env: Record<string, string>; killAboveBytes: number; timeoutMs: number }): Promise<MeasuredRun> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [binPath, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let peak = 0;
    let killed = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const sample = () => {
      peak = Math.max(peak, peakOf(child.pid!));
      if (peak > options.killAboveBytes && !killed) {
        killed = true;
        child.kill('SIGKILL');
      }
    };
    const poll = setInterval(sample, 20);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mailctl ${args.join(' ')} did not finish in ${options.timeoutMs} ms (peak ${Math.round(peak / 1048576)} MB)\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`));
    }, options.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ code, stdout, stderr, peakBytes: peak, killed, ms: Date.now() - started });
    });
  });
}
