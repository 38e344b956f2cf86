import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import type { KbConfig } from '../../src/config/config-schema.js';
import { resolveGlobals } from '../../src/config/globals.js';
import { runOutboundCycle, type OutboundCycleContext } from '../../src/daemon/outbound-cycle.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import { OutboundPacer, type PacerTimer } from '../../src/outbound/outbound-pacer.js';
import { FsMessageStore } from '../../src/store/fs-message-store.js';
import { openDatabase } from '../../src/store/database.js';
import { QueueRepo } from '../../src/store/queue-repo.js';
import { RecordsRepo } from '../../src/store/records-repo.js';
import { TablesRepo } from '../../src/store/tables-repo.js';
import { useTempDirs } from '../helpers/temp-dir.js';

/**
 * A server that limits its clients, written here on purpose: at most `maxSessions` at once (the
 * next one refused at connect with `refuseWith`, as Microsoft 365 does), and `mailFrom`/`rcptTo`
 * hooks that may answer a throttle. It records every session's peak and each message's arrival.
 */
async function startLimitedServer(options: {
  maxSessions?: number;
  /** The reply to a session over the limit; default: smtp-server's own maxClients answer (421 … Too many connected clients). */
  refuseWith?: string;
  mailFrom?: (n: number) => string | undefined;
  rcptTo?: (n: number) => string | undefined;
  /** Time as the test sees it, for each arrival (default: real). */
  now?: () => number;
}) {
  const now = options.now ?? (() => Date.now());
  const open = new Set<string>();
  let peak = 0;
  let refused = 0;
  let mails = 0;
  let rcpts = 0;
  const arrivals: Array<{ to: string; at: number }> = [];
  const refusals: Array<{ to: string; at: number; reply: string }> = [];
  const reply = (text: string) => Object.assign(new Error(text.slice(4)), { responseCode: Number(text.slice(0, 3)) });
  const config: SMTPServerOptions = {
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    hideSTARTTLS: true,
    logger: false,
    ...(options.maxSessions && !options.refuseWith ? { maxClients: options.maxSessions } : {}),
    onConnect(session, callback) {
      if (options.maxSessions && options.refuseWith && open.size >= options.maxSessions) {
        refused++;
        return callback(reply(options.refuseWith));
      }
      open.add(session.id);
      peak = Math.max(peak, open.size);
      callback();
    },
    onClose(session) {
      open.delete(session.id);
    },
    onMailFrom(_address, session, callback) {
      const said = options.mailFrom?.(++mails);
      if (said) refusals.push({ to: '', at: now(), reply: said });
      callback(said ? reply(said) : undefined);
    },
    onRcptTo(address, _session, callback) {
      const said = options.rcptTo?.(++rcpts);
      if (said) refusals.push({ to: address.address, at: now(), reply: said });
      callback(said ? reply(said) : undefined);
    },
    onData(stream, session, callback) {
      stream.resume();
      stream.on('end', () => {
        arrivals.push({ to: session.envelope.rcptTo[0]!.address, at: now() });
        callback(null, `Ok: queued as T${arrivals.length}`);
      });
    },
  };
  const server = new SMTPServer(config);
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as { port: number }).port;
  return {
    port,
    arrivals,
    refusals,
    peak: () => peak,
    refused: () => refused,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A clock for the pacer that moves only when something waits on it (a minute passes at once). */
function fakeTimer(start = 0): PacerTimer & { advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    sleep: async (ms) => {
      const target = t + Math.max(0, ms);
      await new Promise((resolve) => setImmediate(resolve)); // what waits lets the rest run, as a real wait would
      t = Math.max(t, target);
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

describe('outbound that adapts to the server: throttling is not a failure', () => {
  const tempDir = useTempDirs();
  const servers: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });

  async function setup(port: number, messages: number, server: { maxConnections?: number; maxPerMinute?: number } = {}) {
    const clock = { now: () => new Date('2026-11-27T10:00:00Z') }; // the queue's clock stands still: nothing waits 30 minutes here
    const dir = tempDir();
    const db = await openDatabase(join(dir, 'mailctl.db'));
    const kb: KbConfig = { name: 'acme-prod', url: 'https://records.acme.test', environment: 'production', refKeyIds: ['k1'], activeRefKeyId: 'k1', createdAt: '' };
    const warnings: string[] = [];
    const log: Logger = { ...silentLogger, warn: (_facts, message) => warnings.push(message) };
    const ctx: OutboundCycleContext = {
      db, store: new FsMessageStore(join(dir, 'messages')), clock, kb, key: { id: 'k1', bytes: randomBytes(32) }, globals: resolveGlobals({}), log,
      outbound: { host: '127.0.0.1', port, security: 'none', auth: { type: 'none' }, from: 'records@acme.test', ...server },
      target: async () => ({ host: '127.0.0.1', port, security: 'none', auth: { type: 'none' }, timeoutMs: 5000 }),
    };
    new TablesRepo(db, clock).add('contracts');
    const record = new RecordsRepo(db, clock).create({ table: 'contracts', title: 'MSA', createdBy: 'pat@acme.test' });
    const queue = new QueueRepo(db, clock);
    const ids = Array.from({ length: messages }, (_, i) =>
      queue.enqueue({ table: 'contracts', recordId: record.id, ruleId: `r${i}`, from: 'records@acme.test', to: [`p${i}@acme.test`], subject: `Note ${i}`, body: 'Hello', attachments: [], contentHash: `h${i}`, status: 'queued' }).id);
    return { ctx, queue, ids, warnings };
  }

  it.each([
    ['421 from smtp-server\'s own limit ("Too many connected clients, try again in a moment")', undefined],
    ['432 4.3.2 in Microsoft 365\'s words', '432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information.'],
  ])('a server allowing 3 sessions, answering %s to a fourth: 12 messages all delivered within a minute, none deferred or failed', async (_name, refuseWith) => {
    const server = await startLimitedServer({ maxSessions: 3, ...(refuseWith ? { refuseWith } : {}) });
    servers.push(server);
    // The admin allowed 6 connections (the old code opened 4 whatever was set): the server takes 3.
    const s = await setup(server.port, 12, { maxConnections: 6 });
    const pacer = new OutboundPacer({ maxConnections: 6 });
    s.ctx.pacer = pacer;
    const started = Date.now();
    const result = await runOutboundCycle(s.ctx);
    const took = Date.now() - started;
    expect(result).toMatchObject({ claimed: 12, sent: 12, deferred: 0, failed: 0, abandoned: 0 });
    expect(result.throttled).toBeGreaterThan(0);
    expect(took).toBeLessThan(60_000);
    expect(server.arrivals.map((a) => a.to).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `p${i}@acme.test`).sort());
    expect(server.peak()).toBeLessThanOrEqual(3);
    for (const id of s.ids) {
      expect(s.queue.get(id)).toMatchObject({ status: 'sent', firstFailureAt: null, attempts: 1 });
      expect(s.queue.attempts(id).map((a) => a.outcome)).toEqual(['sent']); // no failed attempt on record
    }
    expect(pacer.concurrency).toBeLessThanOrEqual(3);
    expect(s.warnings.some((w) => w.includes('throttling'))).toBe(true);
  }, 60_000);

  it('a 451 4.7.500 answer to MAIL FROM and to RCPT TO lowers the concurrency; each message goes through seconds later', async () => {
    const server = await startLimitedServer({
      mailFrom: (n) => (n === 2 ? '451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (S77719)' : undefined),
      rcptTo: (n) => (n === 4 ? '451 4.7.500 Access denied, please try again later. (AS77714)' : undefined),
    });
    servers.push(server);
    const s = await setup(server.port, 6); // default: 3 connections
    const pacer = new OutboundPacer({ maxConnections: 3 });
    s.ctx.pacer = pacer;
    const result = await runOutboundCycle(s.ctx);
    expect(result).toMatchObject({ claimed: 6, sent: 6, deferred: 0, failed: 0, throttled: 2 });
    expect(pacer.concurrency).toBeLessThan(3);
    const throttledTo = server.refusals.find((r) => r.to)!;
    const arrived = server.arrivals.find((a) => a.to === throttledTo.to)!;
    expect(arrived.at - throttledTo.at).toBeGreaterThanOrEqual(900); // waited (1 s, then 2 s: the second throttle in a row)
    expect(arrived.at - throttledTo.at).toBeLessThan(10_000); // seconds, not the 30-minute retry
    for (const id of s.ids) expect(s.queue.attempts(id).map((a) => a.outcome)).toEqual(['sent']);
  }, 30_000);

  it('a stop request while a throttled message waits: it goes back to the queue as it was, nothing counted', async () => {
    const server = await startLimitedServer({ maxSessions: 1, refuseWith: '421 4.7.0 Too many concurrent SMTP connections' });
    servers.push(server);
    // Another client holds the only session the server allows.
    const { Socket } = await import('node:net');
    const holder = new Socket();
    await new Promise<void>((resolve) => holder.connect(server.port, '127.0.0.1', resolve));
    await new Promise((r) => setTimeout(r, 300));
    const s = await setup(server.port, 2);
    let stop = false;
    s.ctx.stop = () => stop;
    const log = s.ctx.log;
    s.ctx.log = { ...log, warn: (facts, message) => { log.warn(facts, message); if (message.includes('throttling')) stop = true; } };
    const started = Date.now();
    const result = await runOutboundCycle(s.ctx);
    holder.destroy();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(result).toMatchObject({ sent: 0, deferred: 0, failed: 0 });
    expect(result.throttled).toBeGreaterThan(0);
    for (const id of s.ids) expect(s.queue.get(id)).toMatchObject({ status: 'queued', attempts: 0, firstFailureAt: null });
  }, 30_000);

  it('a server refusing every connection ("too many"): a few tries a cycle, not one per message; the rest waits queued, nothing failed', async () => {
    const server = await startLimitedServer({ maxSessions: 1, refuseWith: '421 4.7.0 Too many concurrent SMTP connections' });
    servers.push(server);
    const { Socket } = await import('node:net');
    const holder = new Socket(); // someone else holds the one session allowed
    await new Promise<void>((resolve) => holder.connect(server.port, '127.0.0.1', resolve));
    await new Promise((r) => setTimeout(r, 300));
    try {
      const s = await setup(server.port, 20);
      const timer = fakeTimer(); // the pauses (1, 2, 4, 8 s …) pass at once
      const pacer = new OutboundPacer({ maxConnections: 3 }, timer);
      s.ctx.pacer = pacer;
      const result = await runOutboundCycle(s.ctx);
      expect(result).toMatchObject({ claimed: 20, sent: 0, failed: 0, abandoned: 0 });
      expect(server.refused()).toBeLessThanOrEqual(8); // backing off: 1 + 2 + 4 + 8 s of pauses, then the batch goes back
      expect(pacer.concurrency).toBe(1);
      const entries = s.ids.map((id) => s.queue.get(id)!);
      expect(entries.every((e) => e.attempts === 0 && e.firstFailureAt === null && (e.status === 'queued'))).toBe(true);
      expect(entries.filter((e) => e.lastError?.includes('throttled by the server')).length).toBeGreaterThan(0);
      expect(pacer.startsAvailable()).toBe(0); // still paused: the next cycle claims nothing
      expect((await runOutboundCycle(s.ctx)).claimed).toBe(0);
    } finally {
      holder.destroy();
    }
  }, 30_000);

  it('the per-minute limit: 12 starts at 5 a minute are 5 at 0 s, 5 at 60 s, 2 at 120 s (an injected clock)', async () => {
    const timer = fakeTimer();
    const pacer = new OutboundPacer({ maxConnections: 3, maxPerMinute: 5 }, timer);
    expect(pacer.startsAvailable()).toBe(5);
    const starts: number[] = [];
    // Three connections asking for their turn at once, four messages each.
    await Promise.all([0, 1, 2].map(async () => {
      for (let i = 0; i < 4; i++) {
        expect(await pacer.turn(() => false)).toBe(true);
        starts.push(timer.now());
      }
    }));
    starts.sort((a, b) => a - b);
    expect(starts).toEqual([0, 0, 0, 0, 0, 60_000, 60_000, 60_000, 60_000, 60_000, 120_000, 120_000]);
    for (let i = 0; i + 5 < starts.length; i++) expect(starts[i + 5]! - starts[i]!).toBeGreaterThanOrEqual(60_000);
    expect(pacer.startsAvailable()).toBe(3);
    expect(pacer.nextStartInMs()).toBe(0);
    expect(await pacer.turn(() => true)).toBe(false); // a stop request ends the wait, nothing counted
  });

  it('maxPerMinute=5 against a real server: 12 queued messages go out 5 in any 60 s, the others wait queued (not failed)', async () => {
    const timer = fakeTimer(1_000_000);
    const server = await startLimitedServer({ now: () => timer.now() });
    servers.push(server);
    const s = await setup(server.port, 12, { maxConnections: 1, maxPerMinute: 5 });
    s.ctx.pacer = new OutboundPacer({ maxConnections: 1, maxPerMinute: 5 }, timer);
    const first = await runOutboundCycle(s.ctx);
    expect(first).toMatchObject({ claimed: 5, sent: 5, failed: 0, deferred: 0 });
    const waiting = s.ids.map((id) => s.queue.get(id)!).filter((e) => e.status !== 'sent');
    expect(waiting).toHaveLength(7);
    for (const e of waiting) expect(e).toMatchObject({ status: 'queued', attempts: 0, lastError: null });
    expect((await runOutboundCycle(s.ctx)).claimed).toBe(0); // the minute is not over: nothing claimed, nothing failed
    // The daemon runs a cycle every few seconds: 10 s steps on the pacer's clock.
    for (let step = 0; step < 30 && server.arrivals.length < 12; step++) {
      timer.advance(10_000);
      expect(await runOutboundCycle(s.ctx)).toMatchObject({ failed: 0, deferred: 0 });
    }
    const times = server.arrivals.map((a) => a.at).sort((a, b) => a - b);
    expect(times).toHaveLength(12);
    for (let i = 0; i + 5 < times.length; i++) expect(times[i + 5]! - times[i]!).toBeGreaterThanOrEqual(60_000);
    expect(times.at(-1)! - times[0]!).toBeLessThanOrEqual(130_000); // no slower than the limit asks
    for (const id of s.ids) expect(s.queue.attempts(id).map((a) => a.outcome)).toEqual(['sent']);
  }, 30_000);
});
