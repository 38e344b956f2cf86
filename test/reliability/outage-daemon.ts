import { spawn } from 'node:child_process';
import { expect } from 'vitest';
import { binPath, runCli } from '../helpers/run-cli.js';

/** The outage tests' long-running `mailctl daemon` (the loop, not --once), its JSON log captured. */
export interface RunningDaemon {
  pid: number;
  /** Everything it wrote so far (pino JSON lines on stdout, and stderr). */
  output(): string;
  /** Its JSON log lines, parsed. */
  logLines(): Array<Record<string, unknown> & { msg?: string; level?: number }>;
  /** Still running (it never exits on its own during an outage). */
  running(): boolean;
  /** SIGTERM, as systemd stops it: the exit code and how long it took. */
  stop(): Promise<{ code: number | null; ms: number }>;
  /** SIGKILL, for cleanup after a failure. */
  kill(): void;
  /** Sends a signal (SIGHUP to reload). */
  signal(name: NodeJS.Signals): void;
}

/** Starts the daemon loop with a short tick and waits for "daemon started". */
export async function startDaemon(env: Record<string, string>, tick = '0.2s', extra: string[] = []): Promise<RunningDaemon> {
  const child = spawn(process.execPath, [binPath, 'daemon', '--tick', tick, ...extra], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  // Decoded as streams: a UTF-8 character split between two chunks stays one character.
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => (output += d));
  child.stderr!.on('data', (d: string) => (output += d));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { exitCode = code; resolve(code); }));
  const daemon: RunningDaemon = {
    pid: child.pid!,
    output: () => output,
    logLines: () => output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>),
    running: () => exitCode === undefined,
    async stop() {
      const at = Date.now();
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
      return { code, ms: Date.now() - at };
    },
    kill: () => { if (exitCode === undefined) child.kill('SIGKILL'); },
    signal: (name) => { child.kill(name); },
  };
  try {
    await waitUntil(() => output.includes('"msg":"daemon started"'), 'the daemon to start', 60_000, () => output);
  } catch (error) {
    daemon.kill();
    throw error;
  }
  return daemon;
}

/** Polls `check` until it holds; fails naming what it waited for, with diagnostics. */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs: number, diagnostics: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${diagnostics()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Runs mailctl with --json, expects exit 0, returns the parsed document. */
export async function cliJson(env: Record<string, string>, args: string[], input?: string): Promise<Record<string, any>> {
  const r = await runCli([...args, '--json'], { env, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
  expect(r.code, `mailctl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as Record<string, any>;
}
