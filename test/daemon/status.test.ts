import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { freePort } from '../helpers/free-port.js';
import { binPath, runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

describe('mailctl status', () => {
  const tempDir = useTempDirs();

  it('shows the daemon up or down, each account\'s last poll and error, and the queue', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const json = async (args: string[]) => JSON.parse((await runCli([...args, '--json'], { env })).stdout);
    await runCli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production'], { env });
    expect((await json(['status'])).daemon.state).toBe('never');

    await runCli(['tables', 'add', 'contracts'], { env });
    const record = (await json(['records', 'add', '--table', 'contracts', '--title', 'MSA'])).record;
    const dead = await freePort();
    await runCli(['configure', 'server', '--host', '127.0.0.1', '--port', String(dead), '--security', 'none', '--auth', 'none', '--from', 'a@acme.test', '--no-verify'], { env });
    await runCli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dead), '--security', 'none', '--auth', 'password', '--username', 'u',
      '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore', '--notes', 'new-text', '--after', 'mark-read', '--no-verify'], { env, input: 'pw' });
    await runCli(['send', '--table', 'contracts', '--record', String(record.id), '--to', 'pat@acme.test', '--subject', 'Hi', '--body', 'x'], { env });

    const daemon = spawn(process.execPath, [binPath, 'daemon', '--tick', '0.2s'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'ignore'] });
    const exited = new Promise((r) => daemon.on('exit', r));
    let log = '';
    daemon.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    for (let i = 0; i < 100 && !/outbound attempt failed/.test(log); i++) await new Promise((r) => setTimeout(r, 100));
    const up = await json(['status']);
    expect(up.daemon).toMatchObject({ state: 'up', pid: daemon.pid });
    expect(up.accounts[0]).toMatchObject({ table: 'contracts', failures: 1, lastError: expect.stringContaining('ECONNREFUSED') });
    expect(up.queue.counts).toEqual({ deferred: 1 });
    expect(up.queue.nextRetry).toBeTruthy();
    const human = await runCli(['status'], { env });
    expect(human.stdout).toMatch(/^daemon\s+up since /m);
    expect(human.stdout).toMatch(/^inbound\s+contracts \(imap\): last poll .*✗ .*ECONNREFUSED/m);
    expect(human.stdout).toMatch(/^queue\s+deferred 1; oldest waiting since /m);
    daemon.kill('SIGTERM');
    await exited;

    // A clean stop is recorded: stopped, whatever the heartbeat's age (ten minutes on, still stopped, not "down").
    expect((await json(['status'])).daemon.state).toBe('stopped');
    const db = await openDatabase(join(env.MAILCTL_HOME, 'mailctl.db'));
    db.prepare('UPDATE daemon_state SET heartbeat_at = ?').run(new Date(Date.now() - 10 * 60_000).toISOString());
    db.close();
    expect((await json(['status'])).daemon.state).toBe('stopped');
    expect((await runCli(['status', '--watch', 'soon'], { env })).code).toBe(2);
  }, 60_000);
});
