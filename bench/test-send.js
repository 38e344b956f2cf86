// test-send against swaks, both sending one message to the same in-process SMTP server.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { interleaved } from './lib.js';

const bin = fileURLToPath(new URL('../bin/mailctl.js', import.meta.url));

export async function benchTestSend() {
  const swaks = spawnSync('sh', ['-c', 'command -v swaks'], { encoding: 'utf8' }).stdout.trim();
  if (!swaks) return [{ name: 'test-send vs swaks', skipped: 'swaks is not installed: apt-get install -y swaks' }];
  const server = spawn(process.execPath, [fileURLToPath(new URL('./smtp-sink-process.js', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = Number(await new Promise((resolve) => createInterface({ input: server.stdout }).once('line', resolve)));
  const home = mkdtempSync(join(tmpdir(), 'mailctl-bench-'));
  const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
  const run = (args) => { const r = spawnSync(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' }); if (r.status !== 0) throw new Error(r.stderr); };
  try {
    run(['init', '--name', 'bench', '--url', 'https://bench.test', '--environment', 'production']);
    run(['configure', 'server', '--host', '127.0.0.1', '--port', String(port), '--security', 'none', '--auth', 'none', '--from', 'bench@acme.test']);
    const [swaksMs, mailctlMs] = interleaved([
      { command: swaks, args: ['--server', `127.0.0.1:${port}`, '--to', 'pat@acme.test', '--from', 'bench@acme.test', '--silent', '2'] },
      { command: process.execPath, args: [bin, 'test-send', '--to', 'pat@acme.test'], env },
    ], 10);
    return [{ name: 'test-send (one message)', value: mailctlMs, baseline: swaksMs, baselineName: 'swaks', ratio: mailctlMs / swaksMs, target: 1.5, unit: 'ms' }];
  } finally {
    server.kill('SIGTERM');
    rmSync(home, { recursive: true, force: true });
  }
}
