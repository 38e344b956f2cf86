import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KbConfig } from '../../src/config/config-schema.js';
import { resolveGlobals } from '../../src/config/globals.js';
import { runOutboundCycle, type OutboundCycleContext } from '../../src/daemon/outbound-cycle.js';
import { silentLogger } from '../../src/logger.js';
import { FsMessageStore } from '../../src/store/fs-message-store.js';
import { openDatabase, type Database } from '../../src/store/database.js';
import { QueueRepo } from '../../src/store/queue-repo.js';
import { RecordsRepo } from '../../src/store/records-repo.js';
import { TablesRepo } from '../../src/store/tables-repo.js';
import { parseHeaderBlock } from '../../src/mime/header-block.js';
import { startSmtpSink, type SmtpSink, type SmtpSinkOptions } from '../helpers/smtp-sink.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const minute = 60_000;
const day = 86_400_000;

describe('the outbound queue: retries on a moving clock against a real SMTP server', () => {
  const tempDir = useTempDirs();
  let sink: SmtpSink;
  const behaviour: SmtpSinkOptions = {};
  beforeAll(async () => {
    sink = await startSmtpSink(behaviour);
  });
  afterAll(() => sink?.close());

  async function setup(environment: KbConfig['environment'] = 'production', globals: Record<string, string> = {}) {
    let now = Date.parse('2026-11-27T10:00:00Z');
    const clock = { now: () => new Date(now) };
    const dir = tempDir();
    const db: Database = await openDatabase(join(dir, 'mailctl.db'));
    const kb: KbConfig = { name: 'acme-prod', url: 'https://records.acme.test', environment, refKeyIds: ['k1'], activeRefKeyId: 'k1', createdAt: '' };
    const ctx: OutboundCycleContext = {
      db, store: new FsMessageStore(join(dir, 'messages')), clock, kb, key: { id: 'k1', bytes: randomBytes(32) }, globals: resolveGlobals(globals), log: silentLogger,
      outbound: { host: '127.0.0.1', port: sink.port, security: 'none', auth: { type: 'none' }, from: 'records@acme.test' },
      target: async () => ({ host: '127.0.0.1', port: sink.port, security: 'none', auth: { type: 'none' }, timeoutMs: 5000 }),
    };
    new TablesRepo(db, clock).add('contracts');
    const record = new RecordsRepo(db, clock).create({ table: 'contracts', title: 'MSA', createdBy: 'pat@acme.test' });
    const queue = new QueueRepo(db, clock);
    const entry = queue.enqueue({ table: 'contracts', recordId: record.id, ruleId: 'renewal', from: 'records@acme.test', to: ['pat@acme.test'], subject: 'Renewal due', body: 'Hello', attachments: [], contentHash: 'h1', status: 'queued' });
    return { ctx, queue, entry, advance: (ms: number) => { now += ms; }, clock };
  }

  /** Runs a cycle every `step` until `until` has passed. */
  async function runFor(s: Awaited<ReturnType<typeof setup>>, until: number, step: number) {
    for (let t = 0; t <= until; t += step) {
      await runOutboundCycle(s.ctx);
      s.advance(step);
    }
  }

  it('451, then the server recovers: delivered once, with every attempt recorded', async () => {
    sink.messages.length = 0;
    behaviour.rejectRecipient = '451 4.3.0 Temporary lookup failure';
    const s = await setup();
    await runOutboundCycle(s.ctx);
    expect(s.queue.get(s.entry.id)).toMatchObject({ status: 'deferred', attempts: 1, firstFailureAt: '2026-11-27T10:00:00.000Z', nextAttemptAt: '2026-11-27T10:30:00.000Z' });
    s.advance(10 * minute);
    expect((await runOutboundCycle(s.ctx)).claimed).toBe(0); // not due before the retry interval
    s.advance(20 * minute);
    behaviour.rejectRecipient = undefined;
    await runOutboundCycle(s.ctx);
    expect(s.queue.get(s.entry.id)).toMatchObject({ status: 'sent', attempts: 2 });
    await runFor(s, 2 * 3600_000, 30 * minute);
    expect(sink.messages).toHaveLength(1);
    const headers = parseHeaderBlock(sink.messages[0]!.raw);
    expect(headers.get('x-mailctl-ref')).toBeTruthy();
    expect(s.queue.attempts(s.entry.id).map((a) => a.outcome)).toEqual(['failed during recipient', 'sent']);
  });

  it('451 for five days: an attempt every 30 minutes, abandoned at 5 days', async () => {
    sink.messages.length = 0;
    behaviour.rejectRecipient = '451 4.7.1 Try again later';
    const s = await setup();
    await runFor(s, 5 * day + 2 * 3600_000, 30 * minute);
    const entry = s.queue.get(s.entry.id)!;
    expect(entry.status).toBe('abandoned');
    const attempts = s.queue.attempts(s.entry.id);
    expect(attempts).toHaveLength(5 * 48 + 1); // t = 0, 30 min, …, 5 days
    const gaps = attempts.slice(1).map((a, i) => Date.parse(a.at) - Date.parse(attempts[i]!.at));
    expect(new Set(gaps)).toEqual(new Set([30 * minute]));
    expect(Date.parse(attempts.at(-1)!.at) - Date.parse(attempts[0]!.at)).toBe(5 * day);
    expect(entry.lastError).toContain('abandoned after 5 days');
    expect(sink.messages).toHaveLength(0);
    behaviour.rejectRecipient = undefined;
  }, 120_000);

  it('sends a batch of due messages over a few reused connections (at most 3 by default; the server\'s maxConnections when set)', async () => {
    sink.messages.length = 0;
    const s = await setup();
    for (let i = 0; i < 4; i++) {
      s.queue.enqueue({ table: 'contracts', recordId: s.entry.recordId, ruleId: `r${i}`, from: 'records@acme.test', to: [`p${i}@acme.test`], subject: `Note ${i}`, body: 'Hi', attachments: [], contentHash: `h${i}`, status: 'queued' });
    }
    const before = sink.connections();
    expect(await runOutboundCycle(s.ctx)).toMatchObject({ claimed: 5, sent: 5 });
    expect(sink.connections() - before).toBe(3); // 5 messages, 3 connections: two carried two
    expect(sink.messages).toHaveLength(5);
    const t = await setup();
    t.ctx.outbound = { ...t.ctx.outbound, maxConnections: 1 };
    for (let i = 0; i < 3; i++) {
      t.queue.enqueue({ table: 'contracts', recordId: t.entry.recordId, ruleId: `r${i}`, from: 'records@acme.test', to: [`q${i}@acme.test`], subject: `Note ${i}`, body: 'Hi', attachments: [], contentHash: `h${i}`, status: 'queued' });
    }
    const one = sink.connections();
    expect(await runOutboundCycle(t.ctx)).toMatchObject({ claimed: 4, sent: 4 });
    expect(sink.connections() - one).toBe(1);
  });

  it('550: failed at once, never retried; a 503 is retried', async () => {
    behaviour.rejectRecipient = '550 5.1.1 User unknown';
    const s = await setup();
    await runFor(s, 2 * 3600_000, 30 * minute);
    expect(s.queue.get(s.entry.id)).toMatchObject({ status: 'failed', attempts: 1, lastError: expect.stringContaining('550 5.1.1') });
    behaviour.rejectRecipient = '503 5.5.1 Error: need MAIL command';
    const t = await setup();
    await runOutboundCycle(t.ctx);
    expect(t.queue.get(t.entry.id)).toMatchObject({ status: 'deferred' });
    behaviour.rejectRecipient = undefined;
  });

  it('a test KB holds mail unless redirected or allowed; a redirect sends to the test address with the original recipients in a header', async () => {
    sink.messages.length = 0;
    const held = await setup('test');
    await runOutboundCycle(held.ctx);
    expect(held.queue.get(held.entry.id)).toMatchObject({ status: 'held', lastError: expect.stringContaining('test KB') });
    const redirected = await setup('test', { nonproduction_redirect: 'qa@acme.test' });
    await runOutboundCycle(redirected.ctx);
    expect(redirected.queue.get(redirected.entry.id)!.status).toBe('sent');
    expect(sink.messages[0]!.to).toEqual(['qa@acme.test']);
    expect(parseHeaderBlock(sink.messages[0]!.raw).get('x-mailctl-original-to')).toBe('pat@acme.test');
  });
});
