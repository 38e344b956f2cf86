// Outbound drain: N queued messages through the daemon's cycle against a raw nodemailer pool,
// both to the same SMTP sink (its own process). Throughput ratio and peak RSS.
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = (f) => fileURLToPath(new URL(f, import.meta.url));

export async function benchOutboundDrain(count = Number(process.env.MAILCTL_BENCH_MESSAGES ?? 10_000)) {
  const sink = spawn(process.execPath, [here('./smtp-sink-process.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = Number(await new Promise((resolve) => createInterface({ input: sink.stdout }).once('line', resolve)));
  const run = (mode) => {
    const r = spawnSync(process.execPath, [here('./outbound-drain-worker.js'), mode, String(port), String(count)], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (r.status !== 0) throw new Error(`${mode}: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop());
  };
  try {
    const baseline = run('baseline');
    const mailctl = run('mailctl');
    const rate = count / mailctl.seconds;
    const baseRate = count / baseline.seconds;
    return [
      { name: `outbound drain, ${count} messages (msgs/s)`, value: rate, baseline: baseRate, baselineName: 'nodemailer pool', ratio: rate / baseRate, target: 0.7, targetKind: 'min ratio', unit: '/s' },
      { name: 'outbound drain: peak RSS (MB)', value: mailctl.peakRss / 2 ** 20, baseline: baseline.peakRss / 2 ** 20, baselineName: 'nodemailer pool', unit: 'MB', target: 200, targetKind: 'max MB' },
    ];
  } finally {
    sink.kill('SIGTERM');
  }
}
