import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/store/database.js';
import { binPath } from '../../helpers/run-cli.js';
import { reliabilityTier } from '../../helpers/reliability-tier.js';
import { startSilentServer } from '../../helpers/smtp-sink.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { cliJson, waitUntil } from '../outage-daemon.js';
import { startTrickleSmtp } from './trickle-smtp-server.js';

/**
 * Issue #14, item 4 (the daemon): with an SMTP server that trickles its reply one line every
 * 4 s, the message stayed "sending", the heartbeat stopped and SIGTERM was ignored for over
 * 40 s (the README promises 10). Now: the heartbeat has a timer of its own, a deadline failure
 * queues the message again with the reason, and SIGTERM drops the connections after a short
 * grace and exits within 10 s, whatever the servers do.
 */
describe(`the daemon loop against servers that never finish (${reliabilityTier} tier)`, () => {
  const tempDir = useTempDirs();
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function kb(port: number) {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await cliJson(env, ['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await cliJson(env, ['tables', 'add', 'contracts']);
    const record = (await cliJson(env, ['records', 'add', '--table', 'contracts', '--title', 'MSA'])).record as { id: number };
    await cliJson(env, ['configure', 'server', '--host', '127.0.0.1', '--port', String(port), '--security', 'none', '--auth', 'none', '--from', 'records@acme.test', '--no-verify']);
    const id = (await cliJson(env, ['send', '--table', 'contracts', '--record', String(record.id), '--to', 'pat@acme.test', '--subject', 'Slow', '--body', 'Held up.'])).id as number;
    const db = await openDatabase(join(env.MAILCTL_HOME, 'mailctl.db'));
    cleanup.push(() => db.close());
    return {
      env,
      heartbeat: () => (db.prepare('SELECT heartbeat_at AS at FROM daemon_state').get() as { at: string } | undefined)?.at,
      row: () => db.prepare('SELECT status, last_error AS lastError FROM outbound_queue WHERE id = ?').get(id) as { status: string; lastError: string | null },
    };
  }

  function daemon(env: Record<string, string>, timeout: string) {
    const child = spawn(process.execPath, [binPath, 'daemon', '--tick', '0.2s', '--timeout', timeout], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    let code: number | null | undefined;
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve((code = c))));
    cleanup.push(() => { if (code === undefined) child.kill('SIGKILL'); });
    return {
      output: () => output,
      /** SIGTERM, as systemd stops it: the exit code and how long it took (given up at 20 s). */
      async stop() {
        const at = Date.now();
        child.kill('SIGTERM');
        const c = await Promise.race([exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 20_000))]);
        return { code: c, ms: Date.now() - at };
      },
    };
  }

  /** The heartbeat moves on while the daemon is stuck on a server (sampled 2 s apart). */
  async function expectBeating(heartbeat: () => string | undefined, diag: () => string) {
    const first = heartbeat();
    await new Promise((r) => setTimeout(r, 2000));
    const second = heartbeat();
    expect(first, diag()).toBeDefined();
    expect(Date.parse(second!) - Date.parse(first!), `heartbeat ${first} then ${second}\n${diag()}`).toBeGreaterThanOrEqual(1000);
  }

  it('--timeout 5s: the message is queued again with the reason instead of staying "sending"; the heartbeat goes on; SIGTERM exits in under 10 s', async () => {
    const server = await startTrickleSmtp('after-data');
    cleanup.push(() => server.close());
    const { env, heartbeat, row } = await kb(server.port);
    const d = daemon(env, '5s');
    await waitUntil(() => server.messages() === 1, 'the server to have the message (and start trickling)', 20_000, d.output);
    expect(row().status).toBe('sending');
    await expectBeating(heartbeat, d.output);
    await waitUntil(() => row().status === 'deferred', 'the message to be queued again', 15_000, () => `${JSON.stringify(row())}\n${d.output()}`);
    expect(row().lastError).toMatch(/^The server did not take the message \(\d+ bytes\) and answer within 5\.\d s/);
    const stop = await d.stop();
    expect(stop).toMatchObject({ code: 0 });
    expect(stop.ms).toBeLessThan(10_000);
  }, 60_000);

  it('SIGTERM while a message is stuck in its transfer (--timeout 60s): the connection is dropped, the message goes back to the queue, exit 0 in under 10 s', async () => {
    const server = await startTrickleSmtp('after-data');
    cleanup.push(() => server.close());
    const { env, heartbeat, row } = await kb(server.port);
    const d = daemon(env, '60s');
    await waitUntil(() => server.messages() === 1, 'the server to have the message (and start trickling)', 20_000, d.output);
    await expectBeating(heartbeat, d.output);
    expect(row().status).toBe('sending');
    const stop = await d.stop();
    expect(stop, d.output()).toMatchObject({ code: 0 });
    expect(stop.ms).toBeLessThan(10_000);
    expect(d.output()).toContain('dropping its connections');
    // It may have reached the server already: SMTP cannot tell, so it is sent again (maybe twice).
    expect(row()).toEqual({ status: 'queued', lastError: 'interrupted while being sent (the daemon stopped); queued again: it may have reached the server already, so it can arrive twice' });
  }, 60_000);

  it('SIGTERM while an inbound poll waits on a server that never greets (--timeout 60s): exit 0 in under 10 s', async () => {
    const silent = await startSilentServer();
    cleanup.push(() => silent.close());
    const sink = await startTrickleSmtp('ehlo');
    cleanup.push(() => sink.close());
    const { env, heartbeat } = await kb(sink.port);
    await cliJson(env, ['configure', 'inbound', 'contracts', '--protocol', 'pop3', '--host', '127.0.0.1', '--port', String(silent.port), '--security', 'none', '--auth', 'password',
      '--username', 'contracts@acme.test', '--secret-stdin', '--unknown-sender', 'ignore', '--after', 'keep', '--no-verify'], 'secret');
    const d = daemon(env, '60s');
    await waitUntil(() => d.output().includes('"msg":"daemon started"'), 'the daemon to start', 20_000, d.output);
    await new Promise((r) => setTimeout(r, 1000)); // the poll is under way, waiting for a greeting
    await expectBeating(heartbeat, d.output);
    const stop = await d.stop();
    expect(stop, d.output()).toMatchObject({ code: 0 });
    expect(stop.ms).toBeLessThan(10_000);
  }, 60_000);
});
