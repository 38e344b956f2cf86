// The scheduler's "what is due now?" at 10k and 1M deferred rows: one claim of the next 100,
// measured inside a savepoint that is rolled back, so every tick sees the same queue.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../dist/store/database.js';
import { QueueRepo } from '../dist/store/queue-repo.js';
import { median } from './lib.js';

async function tickTime(rows) {
  const dir = mkdtempSync(join(tmpdir(), 'mailctl-bench-queue-'));
  try {
    const db = await openDatabase(join(dir, 'mailctl.db'));
    const now = Date.parse('2026-11-27T12:00:00Z');
    const insert = db.prepare(`INSERT INTO outbound_queue (status, from_addr, to_addrs, subject, body, content_hash, next_attempt_at, created_at, updated_at)
      VALUES ('deferred', 'a@acme.test', 'b@acme.test', 's', 'b', 'h', ?, '2026-11-20T00:00:00Z', '2026-11-20T00:00:00Z')`);
    db.transaction(() => {
      // Spread over ±5 days around "now": about half are due.
      for (let i = 0; i < rows; i++) insert.run(new Date(now - 5 * 86_400_000 + Math.floor((i * 10 * 86_400_000) / rows)).toISOString());
    })();
    db.exec('ANALYZE');
    const queue = new QueueRepo(db, { now: () => new Date(now) });
    const times = [];
    for (let i = 0; i < 25; i++) {
      db.exec('SAVEPOINT tick');
      const started = process.hrtime.bigint();
      const claimed = queue.claimDue(new Date(now), 100);
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
      db.exec('ROLLBACK TO tick; RELEASE tick');
      if (claimed.length !== 100) throw new Error(`claimed ${claimed.length}`);
    }
    db.close();
    return median(times);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchQueueScale() {
  const small = await tickTime(10_000);
  const large = await tickTime(1_000_000);
  return [
    { name: 'queue tick (claim 100 due) at 1M rows', value: large, unit: 'ms', target: 50, targetKind: 'max ms' },
    { name: 'queue tick growth 10k → 1M rows', value: large / small, baseline: small, baselineName: 'tick at 10k rows', ratio: large / small, target: 100, targetKind: 'sub-linear (< 100× for 100× rows)' },
  ];
}
