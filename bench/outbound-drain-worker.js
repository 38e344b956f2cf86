// Drains N queued messages through mailctl's outbound cycle (or, with "baseline", sends the
// same N messages with a raw nodemailer pool) to the SMTP sink on PORT. Prints JSON:
// seconds and peak RSS. Run as its own process so its RSS is its own.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [mode, portText, countText] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
const body = 'Hello,\n\nyour contract renewal is due.\n'.repeat(40);
let peak = 0;
const sample = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);

if (mode === 'baseline') {
  const { default: nodemailer } = await import('nodemailer');
  const transport = nodemailer.createTransport({ pool: true, host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  const started = performance.now();
  const inFlight = [];
  for (let i = 0; i < count; i++) {
    inFlight.push(transport.sendMail({ from: 'records@acme.test', to: `p${i}@acme.test`, subject: `Renewal ${i}`, text: body }));
    if (inFlight.length >= 200) await Promise.all(inFlight.splice(0));
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - started) / 1000;
  transport.close();
  clearInterval(sample);
  console.log(JSON.stringify({ seconds, peakRss: Math.max(peak, process.memoryUsage().rss) }));
} else {
  const { openDatabase } = await import('../dist/store/database.js');
  const { QueueRepo } = await import('../dist/store/queue-repo.js');
  const { TablesRepo } = await import('../dist/store/tables-repo.js');
  const { RecordsRepo } = await import('../dist/store/records-repo.js');
  const { runOutboundCycle } = await import('../dist/daemon/outbound-cycle.js');
  const { resolveGlobals } = await import('../dist/config/globals.js');
  const { FsMessageStore } = await import('../dist/store/fs-message-store.js');
  const dir = mkdtempSync(join(tmpdir(), 'mailctl-bench-drain-'));
  const clock = { now: () => new Date() };
  const db = await openDatabase(join(dir, 'mailctl.db'));
  new TablesRepo(db, clock).add('contracts');
  const record = new RecordsRepo(db, clock).create({ table: 'contracts', title: 'MSA', createdBy: 'a@acme.test' });
  const queue = new QueueRepo(db, clock);
  db.transaction(() => {
    for (let i = 0; i < count; i++) queue.enqueue({ table: 'contracts', recordId: record.id, ruleId: 'renewal', from: 'records@acme.test', to: [`p${i}@acme.test`], subject: `Renewal ${i}`, body, attachments: [], contentHash: `h${i}`, status: 'queued' });
  })();
  const ctx = {
    db, store: new FsMessageStore(join(dir, 'messages')), clock, kb: { name: 'bench', url: 'https://bench.test', environment: 'production', refKeyIds: ['k1'], activeRefKeyId: 'k1', createdAt: '' },
    key: { id: 'k1', bytes: randomBytes(32) }, globals: resolveGlobals({}), log: { info() {}, warn() {}, error() {} },
    outbound: { host: '127.0.0.1', port, security: 'none', auth: { type: 'none' }, from: 'records@acme.test' },
    target: async () => ({ host: '127.0.0.1', port, security: 'none', auth: { type: 'none' }, timeoutMs: 10_000 }),
    batch: 500,
  };
  const started = performance.now();
  let sent = 0;
  for (;;) {
    const r = await runOutboundCycle(ctx);
    sent += r.sent;
    if (r.claimed === 0) break;
  }
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sample);
  db.close();
  rmSync(dir, { recursive: true, force: true });
  if (sent !== count) throw new Error(`sent ${sent} of ${count}`);
  console.log(JSON.stringify({ seconds, peakRss: Math.max(peak, process.memoryUsage().rss) }));
}
process.exit(0);
