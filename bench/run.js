// `npm run bench`: every benchmark, a table, and JSON under bench/results/.
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { benchInboundIngest } from './inbound-ingest.js';
import { benchDaemonLatency } from './daemon-latency.js';
import { benchOutboundDrain } from './outbound-drain.js';
import { benchQueueScale } from './queue-scale.js';
import { benchStartup } from './startup.js';
import { benchTestSend } from './test-send.js';

// `npm run bench -- ingest` runs only the benchmarks whose name contains a word given.
const only = process.argv.slice(2).map((word) => word.toLowerCase());
const all = { startup: benchStartup, 'test-send': benchTestSend, 'queue-scale': benchQueueScale, 'outbound-drain': benchOutboundDrain, 'inbound-ingest': benchInboundIngest, 'daemon-latency': benchDaemonLatency };
const rows = [];
for (const [name, bench] of Object.entries(all)) if (only.length === 0 || only.some((word) => name.includes(word))) rows.push(...(await bench()));

const fmt = (n) => (typeof n === 'number' ? (n >= 100 ? n.toFixed(0) : n.toFixed(2)) : '');
console.log('benchmark | value | baseline | ratio | target | met');
console.log('---|---|---|---|---|---');
for (const r of rows) {
  if (r.skipped) { console.log(`${r.name} | skipped: ${r.skipped} | | | |`); continue; }
  if (r.target === undefined) { console.log(`${r.name} | ${fmt(r.value)} ${r.unit} | ${r.baseline !== undefined ? `${fmt(r.baseline)} ${r.unit} (${r.baselineName})` : ''} | ${r.ratio !== undefined ? `${fmt(r.ratio)}×` : ''} | | `); continue; }
  const met = r.targetKind === 'min ratio' ? r.ratio >= r.target : r.targetKind === 'max ms' || r.targetKind === 'max MB' ? r.value <= r.target : r.ratio <= r.target;
  console.log(`${r.name} | ${fmt(r.value)} ${r.unit ?? '×'} | ${r.baseline !== undefined ? `${fmt(r.baseline)} ${r.unit && r.unit !== '×' ? r.unit : 'ms'} (${r.baselineName})` : ''} | ${r.ratio !== undefined ? `${fmt(r.ratio)}×` : ''} | ${r.targetKind === 'max ms' ? `≤ ${r.target} ms` : r.targetKind === 'max MB' ? `≤ ${r.target} MB` : r.targetKind === 'min ratio' ? `≥ ${r.target}×` : `≤ ${r.target}×`} | ${met ? 'yes' : 'NO'}`);
  r.met = met;
}
const machine = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30) };
const file = new URL(`./results/bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url);
writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), machine, rows }, null, 2));
console.log(`\nmachine: ${machine.cpus} × ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}`);
