import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/run-cli.js';
import { bySize, reliabilityTier } from '../../helpers/reliability-tier.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { cliJson } from '../outage-daemon.js';
import { startTrickleSmtp, type TrickleAt } from './trickle-smtp-server.js';

/**
 * Issue #14, item 4 (SMTP): a server that answers one line every 4 s kept
 * `daemon --once --timeout 5s` running for minutes — nodemailer's timeouts are idle timeouts.
 * Every reply now has a deadline (--timeout from its command), the message after DATA one from
 * its size; a message that runs into one is queued again with the reason, and the server is
 * not tried again for the rest of the cycle.
 */
const queued = bySize(40, 10);

describe(`daemon --once --timeout 5s against an SMTP server that trickles (${reliabilityTier} tier: ${queued} messages)`, () => {
  const tempDir = useTempDirs();
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function kbWith(at: TrickleAt, messages: number) {
    const server = await startTrickleSmtp(at);
    cleanup.push(() => server.close());
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await cliJson(env, ['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await cliJson(env, ['tables', 'add', 'contracts']);
    const record = (await cliJson(env, ['records', 'add', '--table', 'contracts', '--title', 'MSA'])).record as { id: number };
    // The server would hold the verification too: saved without it.
    await cliJson(env, ['configure', 'server', '--host', '127.0.0.1', '--port', String(server.port), '--security', 'none', '--auth', 'none', '--from', 'records@acme.test', '--no-verify']);
    for (let i = 0; i < messages; i++) {
      await cliJson(env, ['send', '--table', 'contracts', '--record', String(record.id), '--to', `pat${i}@acme.test`, '--subject', `Trickle ${i}`, '--body', `Message ${i}.`]);
    }
    return { env, server };
  }

  /** `daemon --once --timeout 5s`, timed; the old code ran for minutes (cut here at 60 s). */
  async function once(env: Record<string, string>) {
    const started = Date.now();
    const run = await runCli(['daemon', '--once', '--timeout', '5s', '--json'], { env, timeoutMs: 60_000 });
    return { ...run, ms: Date.now() - started };
  }

  it(`EHLO's reply never ends: the run ends in under 30 s, every message queued again with the reason`, async () => {
    const { env, server } = await kbWith('ehlo', queued);
    const run = await once(env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.ms).toBeLessThan(30_000);
    expect(JSON.parse(run.stdout).outbound).toMatchObject({ claimed: queued, sent: 0, deferred: queued });
    // One try per connection (4), not one --timeout per message.
    expect(server.connections()).toBeLessThanOrEqual(4);

    const entries = (await cliJson(env, ['queue', 'list'])).entries as Array<{ id: number; status: string; attempts: number; lastError: string }>;
    expect(entries.map((e) => e.status)).toEqual(Array(queued).fill('deferred'));
    const tried = entries.filter((e) => e.attempts === 1);
    expect(tried.length).toBeGreaterThanOrEqual(1);
    for (const e of tried) expect(e.lastError).toBe('No complete reply to EHLO within 5 s (the server answers too slowly).');
    for (const e of entries.filter((x) => x.attempts === 0)) expect(e.lastError).toMatch(/^not tried: the server let a deadline pass on an earlier message this cycle \(No complete reply to EHLO within 5 s/);
    const shown = await cliJson(env, ['queue', 'show', String(tried[0]!.id)]);
    expect(shown.attempts).toMatchObject([{ outcome: 'failed during greeting', response: 'No complete reply to EHLO within 5 s (the server answers too slowly).' }]);
  }, 60_000);

  it('the reply after the message never ends: the run ends in under 30 s, the message queued again with the reason', async () => {
    const { env, server } = await kbWith('after-data', 2);
    const run = await once(env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.ms).toBeLessThan(30_000);
    expect(server.messages()).toBeGreaterThanOrEqual(1); // the server had it: it may still deliver it (SMTP cannot tell)
    expect(JSON.parse(run.stdout).outbound).toMatchObject({ claimed: 2, sent: 0, deferred: 2 });
    const entries = (await cliJson(env, ['queue', 'list'])).entries as Array<{ id: number; status: string; attempts: number; lastError: string }>;
    expect(entries.map((e) => e.status)).toEqual(['deferred', 'deferred']);
    const tried = entries.filter((e) => e.attempts === 1);
    expect(tried.length).toBeGreaterThanOrEqual(1);
    for (const e of tried) expect(e.lastError).toMatch(/^The server did not take the message \(\d+ bytes\) and answer within 5\.\d s \(at least 64 KiB\/s after --timeout 5 s\)\.$/);
    const shown = await cliJson(env, ['queue', 'show', String(tried[0]!.id)]);
    expect(shown.attempts[0]).toMatchObject({ outcome: 'failed during after-data' });
  }, 60_000);
});
