import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { simpleMessage } from '../../helpers/messages.js';
import { binPath, runCli } from '../../helpers/run-cli.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { startHostileImapServer, type HostileImapServer, type HostileMessage } from './hostile-imap-server.js';

// Issue 14, item 5 (IMAP): fetch-ahead trusted the size the server listed. Three messages
// listed at ~110 bytes and sent as 300 MB literals took `daemon --once` to 1.9 GB.
const literalBytes = 300 * 1024 * 1024;
const uidValidity = 1_700_000_002;

interface Poll {
  listed: number;
  processed: number;
  dispositions: Record<string, number>;
  failed: Array<{ key: string; attempts: number; error: string; subject: string | null; from: string | null }>;
  quarantined: Array<{ key: string; attempts: number }>;
}

describe('IMAP: a server that lists small messages and sends 300 MB literals (hostile server)', () => {
  const tempDir = useTempDirs();
  let server: HostileImapServer | undefined;
  afterEach(async () => server?.close());

  it('daemon --once stays under 300 MB, takes the honest messages, and quarantines the lying ones after 3 polls', async () => {
    const message = (uid: number, subject: string): HostileMessage => ({ uid, raw: Buffer.from(simpleMessage({ subject, messageId: `h${uid}@acme.test` })) });
    const honest = (uid: number) => message(uid, `Honest ${uid}`);
    const lying = (uid: number): HostileMessage => ({ ...message(uid, `Lying ${uid}`), listedSize: 110, fault: { kind: 'huge', bytes: literalBytes } });
    server = await startHostileImapServer({ user: 'contracts@acme.test', password: 'c-pass', uidValidity, messages: [honest(1), lying(2), lying(3), lying(4), honest(5)] });
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const cli = async (args: string[], input?: string) => {
      const r = await runCli(args, { env, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
      expect(r.code, `mailctl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
      return r;
    };
    await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await cli(['tables', 'add', 'contracts']);
    await cli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(server.port), '--security', 'none', '--auth', 'password',
      '--username', 'contracts@acme.test', '--secret-stdin', '--folder', 'INBOX', '--no-create-records', '--unknown-sender', 'ignore', '--notes', 'new-text', '--after', 'mark-read', '--no-verify'], 'c-pass');

    const lyingKeys = [2, 3, 4].map((uid) => `imap:${uidValidity}:${uid}`);
    for (const attempt of [1, 2, 3]) {
      const run = await runMeasured(['daemon', '--once', '--json'], env);
      console.info(`poll ${attempt}: daemon --once peak RSS ${Math.round(run.peakRss / 1024 / 1024)} MB`);
      expect(run.stderr).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
      expect(run.peakRss, run.stderr).toBeLessThan(300 * 1024 * 1024);
      const account = JSON.parse(run.stdout).accounts[0] as { status: string; poll: Poll };
      expect(account.status, run.stdout).toBe('ok');
      if (attempt === 1) {
        expect(run.code).toBe(1);
        expect(account.poll).toMatchObject({ listed: 5, processed: 2, dispositions: { ignored: 2 } });
      }
      if (attempt < 3) {
        expect(account.poll.failed.map((f) => [f.key, f.attempts])).toEqual(lyingKeys.map((key) => [key, attempt]));
        // The error says what the server did, in numbers, and names the message (by its header fields, asked alone).
        for (const [i, failure] of account.poll.failed.entries()) {
          expect(failure.error).toMatch(new RegExp(`Literal size ${literalBytes} exceeds`));
          expect(failure).toMatchObject({ subject: `Lying ${i + 2}`, from: 'pat@acme.test' });
        }
      } else {
        expect(run.code).toBe(0);
        expect(account.poll).toMatchObject({ listed: 3, processed: 3, dispositions: { quarantined: 3 }, failed: [] });
        expect(account.poll.quarantined.map((q) => [q.key, q.attempts])).toEqual(lyingKeys.map((key) => [key, 3]));
      }
    }
    // Quarantined with no bytes (none of a refused literal is read), and marked read.
    const comms = JSON.parse((await cli(['comms', 'list', '--json'])).stdout).communications as Array<{ mailboxKey: string; disposition: string; reason: string; size: number }>;
    expect(comms.filter((c) => c.disposition === 'quarantined').map((c) => [c.mailboxKey, c.size])).toEqual(lyingKeys.map((key) => [key, 0]).reverse());
    expect(server.messages.filter((m) => !m.seen)).toEqual([]);
  }, 120_000);
});

/** Runs the CLI, sampling the child's peak RSS (VmHWM) every 20 ms. */
function runMeasured(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string; peakRss: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let peakRss = 0;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const sample = () => {
      try {
        const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1];
        if (kb) peakRss = Math.max(peakRss, Number(kb) * 1024);
      } catch {
        // exited between samples
      }
    };
    const timer = setInterval(sample, 20);
    const deadline = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(timer);
      clearTimeout(deadline);
      resolve({ code: code ?? -1, stdout, stderr, peakRss });
    });
  });
}
