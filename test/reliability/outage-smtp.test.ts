import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bySize, reliabilityTier } from '../helpers/reliability-tier.js';
import { startSmtpSink, type ReceivedMessage, type SmtpSink } from '../helpers/smtp-sink.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { cliJson, startDaemon, waitUntil, type RunningDaemon } from './outage-daemon.js';

/**
 * Issue #8, point 7a: the SMTP server goes away while `mailctl daemon` runs (the loop).
 * Mail queued meanwhile is deferred with the fault reported (queue show, status, the
 * log) and retried; when the server is back on its port, everything goes, exactly once.
 */
const duringOutage = bySize(40, 8);
const outageRetries = bySize(4, 2); // retry rounds each deferred message must have failed before the server returns

const itemOf = (m: ReceivedMessage) => /outage-item-(\w+)-end/.exec(m.raw.toString('utf8'))?.[1] ?? '?';

describe(`the SMTP server down for a stretch (${reliabilityTier} tier: ${duringOutage} messages queued during the outage)`, () => {
  const tempDir = useTempDirs();
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it('deferred with ECONNREFUSED reported while down, retried, all sent once when the server is back on its port; the daemon never stops', async () => {
    let sink: SmtpSink = await startSmtpSink({});
    cleanup.push(() => sink.close());
    const port = sink.port;
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await cliJson(env, ['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await cliJson(env, ['tables', 'add', 'contracts']);
    await cliJson(env, ['config', 'set', 'outbound_retry_interval', '1s']);
    const record = (await cliJson(env, ['records', 'add', '--table', 'contracts', '--title', 'MSA'])).record as { id: number };
    await cliJson(env, ['configure', 'server', '--host', '127.0.0.1', '--port', String(port), '--security', 'none', '--auth', 'none', '--from', 'records@acme.test']);
    const send = async (item: string) => (await cliJson(env, ['send', '--table', 'contracts', '--record', String(record.id), '--to', 'pat@acme.test', '--subject', `Outage ${item}`, '--body', `outage-item-${item}-end`])).id as number;
    const queue = async () => (await cliJson(env, ['queue', 'list'])).entries as Array<{ id: number; status: string; attempts: number; lastError: string | null; nextAttemptAt: string }>;

    const daemon: RunningDaemon = await startDaemon(env);
    cleanup.push(() => daemon.kill());
    const diag = () => `daemon log:\n${daemon.output().slice(-4000)}`;

    // Before: the server works.
    const before = await send('before');
    await waitUntil(() => sink.messages.length === 1, 'the first message to be sent', 60_000, diag);

    // The server goes away; mail keeps being queued.
    await sink.close();
    const ids: number[] = [];
    for (let i = 0; i < duringOutage; i++) ids.push(await send(`down${i}`));
    await waitUntil(async () => (await queue()).filter((e) => ids.includes(e.id)).every((e) => e.status === 'deferred' && e.attempts >= outageRetries),
      `every message to have failed ${outageRetries} times`, 120_000, diag);

    // The fault, as an admin finds it: queue show, status, the log.
    // (A snapshot may catch a message claimed for its next attempt: "sending".)
    const shown = await cliJson(env, ['queue', 'show', String(ids[0])]);
    expect(shown.entry).toMatchObject({ status: expect.stringMatching(/^(deferred|sending)$/), lastError: expect.stringContaining('ECONNREFUSED'), firstFailureAt: expect.any(String) });
    expect(shown.attempts.length).toBeGreaterThanOrEqual(outageRetries);
    for (const a of shown.attempts) expect(a).toMatchObject({ outcome: 'failed during connect', response: expect.stringContaining('ECONNREFUSED') });
    // Retried about every outbound_retry_interval (1 s; an attempt's time is taken after its connect
    // fails, so two can be a little closer): not in a hot loop, and not once and forgotten.
    const gaps = shown.attempts.slice(1).map((a: { at: string }, k: number) => Date.parse(a.at) - Date.parse(shown.attempts[k].at));
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(500);
    const status = await cliJson(env, ['status']);
    expect(status.daemon).toMatchObject({ state: 'up', pid: daemon.pid });
    expect(status.queue.counts.sent).toBe(1);
    expect((status.queue.counts.deferred ?? 0) + (status.queue.counts.sending ?? 0)).toBe(duringOutage);
    expect(status.queue.oldestDeferred).toEqual(expect.any(String));
    expect(Date.parse(status.queue.nextRetry)).toBeGreaterThan(Date.parse(status.queue.oldestDeferred));
    const failures = daemon.logLines().filter((l) => l.msg === 'outbound attempt failed');
    expect(failures.length).toBeGreaterThanOrEqual(duringOutage * outageRetries);
    expect(failures[0]).toMatchObject({ level: 40, status: 'deferred', error: expect.stringContaining('ECONNREFUSED') });
    expect(daemon.running()).toBe(true);

    // The server comes back on the same port: everything goes, once.
    sink = await startSmtpSink({ port });
    await waitUntil(async () => (await queue()).every((e) => e.status === 'sent'), 'the queue to drain after the server came back', 120_000, diag);
    await new Promise((r) => setTimeout(r, 3000)); // three more retry intervals: nothing may follow
    const items = sink.messages.map(itemOf).sort();
    expect(items).toEqual(Array.from({ length: duringOutage }, (_, i) => `down${i}`).sort());
    const entries = await queue();
    expect(entries).toHaveLength(duringOutage + 1);
    for (const e of entries) expect(e).toMatchObject({ status: 'sent', lastError: null });
    const after = await cliJson(env, ['queue', 'show', String(ids[0])]);
    expect(after.attempts.at(-1)).toMatchObject({ outcome: 'sent', response: expect.stringContaining('250') });
    expect(after.attempts.filter((a: { outcome: string }) => a.outcome === 'sent')).toHaveLength(1);
    expect((await cliJson(env, ['queue', 'show', String(before)])).attempts).toHaveLength(1);
    const recovered = await cliJson(env, ['status']);
    expect(recovered.queue).toEqual({ counts: { sent: duringOutage + 1 }, oldestDeferred: null, nextRetry: null, stuck: 0, oldestStuck: null });
    const comms = (await cliJson(env, ['comms', 'list'])).communications as Array<{ direction: string; disposition: string }>;
    expect(comms.filter((c) => c.direction === 'outbound').map((c) => c.disposition)).toEqual(Array(duringOutage + 1).fill('sent'));

    // And it stops as systemd asks.
    const stopped = await daemon.stop();
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(10_000);
    expect(existsSync(join(env.MAILCTL_HOME, 'daemon.lock'))).toBe(false);
  }, bySize(600_000, 120_000));
});
