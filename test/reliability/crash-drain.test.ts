import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHeaderBlock } from '../../src/mime/header-block.js';
import { openDatabase } from '../../src/store/database.js';
import { bySize, reliabilityTier } from '../helpers/reliability-tier.js';
import { binPath, runCli } from '../helpers/run-cli.js';
import { startSmtpSink, type ReceivedMessage, type SmtpSink } from '../helpers/smtp-sink.js';
import { useTempDirs } from '../helpers/temp-dir.js';

/**
 * Issue #8, point 6 (drain): the daemon is SIGKILLed at random points while it sends the
 * queue, then run to the end. SMTP cannot be exactly-once (README, "Outbound queue"): a
 * message the server took whose 250 the daemon had not committed yet when it died goes
 * back to deferred and is sent again. So: nothing lost, and a second copy only for a
 * message that was exactly in that state at a kill — checked message by message.
 */
const rounds = bySize(20, 5);
const queued = bySize(300, 40);
/** Each round is killed after the sink got this many more messages (random in the range). */
const sentPerKill: [number, number] = bySize([1, 10], [1, 8]);
/** The outbound cycle's connections (defaultMaxConnections, src/outbound/outbound-config.ts): at most this many messages are in flight at once. */
const connections = 3;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const randomInt = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));
const itemOf = (m: ReceivedMessage) => Number(/drain-item-(\d+)-end/.exec(m.raw.toString('utf8'))?.[1] ?? -1);

describe(`kill -9 during the queue drain (${reliabilityTier} tier: ${rounds} kills, ${queued} messages)`, () => {
  const tempDir = useTempDirs();
  let sink: SmtpSink;
  beforeAll(async () => {
    sink = await startSmtpSink({});
  });
  afterAll(() => sink?.close());

  it(`${queued} queued with mailctl send, ${rounds} kills mid-drain, then run to the end: all sent, second copies only for messages in flight at a kill`, async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const cli = async (args: string[]) => {
      const r = await runCli([...args, '--json'], { env, timeoutMs: 60_000 });
      expect(r.code, `mailctl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
      return JSON.parse(r.stdout);
    };
    await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await cli(['tables', 'add', 'contracts']);
    const record = (await cli(['records', 'add', '--table', 'contracts', '--title', 'MSA'])).record as { id: number };
    await cli(['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'none', '--from', 'records@acme.test']);

    // Queue through the CLI, a few at a time (each send is its own process and transaction).
    const queueIds = new Map<number, number>(); // item → queue id
    const startedAt = Date.now();
    let next = 0;
    await Promise.all(Array.from({ length: 4 }, async () => {
      for (let i = next++; i < queued; i = next++) {
        const sent = await cli(['send', '--table', 'contracts', '--record', String(record.id), '--to', `person${i % 7}@acme.test`, '--subject', `Drain ${i}`,
          '--body', `Hello,\nthis is drain-item-${i}-end.\n`, '--rule', 'reliability']);
        expect(sent).toMatchObject({ queued: true });
        queueIds.set(i, sent.id);
      }
    }));
    expect(queueIds.size).toBe(queued);
    expect(sink.messages).toHaveLength(0);
    const queuedAt = Date.now();

    const dbPath = join(env.MAILCTL_HOME, 'mailctl.db');
    const statuses = async () => {
      const db = await openDatabase(dbPath);
      try {
        return new Map((db.prepare('SELECT id, status FROM outbound_queue').all() as Array<{ id: number; status: string }>).map((r) => [r.id, r.status]));
      } finally {
        db.close();
      }
    };
    const log: string[] = [];
    /** item → how many kills caught it taken by the server but not yet committed as sent. */
    const inFlightAtKill = new Map<number, number>();
    for (let round = 0; round < rounds; round++) {
      const before = sink.messages.length;
      const target = before + randomInt(...sentPerKill);
      // Half the rounds die the moment the server has taken the message (aiming at the gap
      // before the daemon commits its 250), the others a random few ms later.
      const jitterMs = round % 2 === 0 ? 0 : randomInt(1, 15);
      const child = spawn(process.execPath, [binPath, 'daemon', '--once'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
      let done = false;
      void exited.then(() => (done = true));
      const deadline = Date.now() + 60_000;
      while (!done && sink.messages.length < target) {
        if (Date.now() > deadline) {
          child.kill('SIGKILL');
          throw new Error(`round ${round}: the sink got nothing new in 60 s (${before} → ${sink.messages.length})\n${log.join('\n')}`);
        }
        await (jitterMs === 0 ? new Promise((r) => setImmediate(r)) : sleep(2));
      }
      if (!done) {
        if (jitterMs > 0) await sleep(jitterMs);
        child.kill('SIGKILL');
      }
      const result = await exited;
      await sleep(250); // let the sink finish with whatever reached it before the connections dropped
      const received = sink.messages.slice(before).map(itemOf);
      const status = await statuses();
      const caught = received.filter((item) => status.get(queueIds.get(item)!) === 'sending');
      for (const item of caught) inFlightAtKill.set(item, (inFlightAtKill.get(item) ?? 0) + 1);
      const counts = [...status.values()].reduce<Record<string, number>>((acc, s) => ({ ...acc, [s]: (acc[s] ?? 0) + 1 }), {});
      log.push(`round ${round}: sink ${before} → ${sink.messages.length} (kill after ${target - before} more + ${jitterMs} ms), ${result.signal ?? `exit ${result.code}`}; queue ${JSON.stringify(counts)}; taken by the server but not committed: [${caught.join(', ')}]`);
      expect(result.signal, log.join('\n')).toBe('SIGKILL'); // killed mid-drain: the daemon had not finished
      expect(counts.sent ?? 0, log.join('\n')).toBeLessThan(queued);
      expect(caught.length, log.join('\n')).toBeLessThanOrEqual(connections);
    }

    const killedAt = Date.now();
    // Run to the end: one cycle claims at most 100, so a few runs.
    for (let run = 0; run < 10 && [...(await statuses()).values()].some((s) => s !== 'sent'); run++) {
      const finish = await runCli(['daemon', '--once'], { env, timeoutMs: 120_000 });
      expect(finish.code, `${finish.stdout}\n${finish.stderr}`).toBe(0);
    }
    await sleep(100);

    // The sink, message by message: every item arrived, and more than once only after a kill caught it in flight.
    const copies = new Map<number, ReceivedMessage[]>();
    for (const m of sink.messages) {
      const item = itemOf(m);
      expect(item, m.raw.toString('utf8').slice(0, 2000)).toBeGreaterThanOrEqual(0); // a whole message: its last line came through
      copies.set(item, [...(copies.get(item) ?? []), m]);
    }
    const lost = [...queueIds.keys()].filter((item) => !copies.has(item));
    expect(lost, log.join('\n')).toEqual([]);
    expect(copies.size).toBe(queued);
    for (const [item, got] of copies) {
      expect(got.length, `item ${item}\n${log.join('\n')}`).toBe(1 + (inFlightAtKill.get(item) ?? 0));
    }
    const duplicates = sink.messages.length - queued;
    expect(duplicates).toBe([...inFlightAtKill.values()].reduce((a, b) => a + b, 0));

    // The queue: every row sent once, with one communication whose Message-ID is the copy that was committed (the last one).
    const db = await openDatabase(dbPath);
    try {
      const rows = db.prepare(`SELECT q.id, q.status, q.attempts, q.last_error AS lastError, q.communication_id AS commId, c.disposition, c.direction, c.message_id AS messageId,
          (SELECT count(*) FROM outbound_attempts a WHERE a.queue_id = q.id AND a.outcome = 'sent') AS sentAttempts
        FROM outbound_queue q LEFT JOIN communications c ON c.id = q.communication_id`).all() as Array<{ id: number; status: string; attempts: number; lastError: string | null; commId: number | null; disposition: string; direction: string; messageId: string | null; sentAttempts: number }>;
      expect(rows).toHaveLength(queued);
      expect(new Set(rows.map((r) => r.commId)).size).toBe(queued);
      expect((db.prepare("SELECT count(*) AS n FROM communications WHERE direction = 'outbound'").get() as { n: number }).n).toBe(queued);
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const [item, id] of queueIds) {
        const row = byId.get(id)!;
        expect(row, `item ${item}`).toMatchObject({ status: 'sent', attempts: 1, sentAttempts: 1, lastError: null, disposition: 'sent', direction: 'outbound' });
        const last = copies.get(item)!.at(-1)!;
        expect(`<${row.messageId}>`, `item ${item}`).toBe(parseHeaderBlock(last.raw).get('message-id'));
        expect(last.to).toEqual([`person${item % 7}@acme.test`]);
      }
    } finally {
      db.close();
    }
    console.info(`${log.join('\n')}\n${queued} queued, ${sink.messages.length} received: ${duplicates} second cop${duplicates === 1 ? 'y' : 'ies'}, each of a message the server had taken when a kill came
(queueing ${queuedAt - startedAt} ms, kill rounds ${killedAt - queuedAt} ms, final runs ${Date.now() - killedAt} ms)`);
  }, bySize(900_000, 150_000));
});
