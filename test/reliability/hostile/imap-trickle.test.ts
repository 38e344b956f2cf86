import { afterEach, describe, expect, it } from 'vitest';
import { simpleMessage } from '../../helpers/messages.js';
import { runCli } from '../../helpers/run-cli.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { startHostileImapServer, type HostileImapServer, type HostileMessage } from './hostile-imap-server.js';

// Issue 14, "every server exchange has an overall deadline" (IMAP): imapflow's socketTimeout is an
// idle timeout (at least 60 s here), so a server that trickles a message one line every 2 s kept
// `daemon --once --timeout 5s` waiting for the whole trickle, and every message after it.
const uidValidity = 1_700_000_003;

describe('IMAP: a server that trickles one message a line every 2 s (hostile server)', () => {
  const tempDir = useTempDirs();
  let server: HostileImapServer | undefined;
  afterEach(async () => server?.close());

  it('daemon --once --timeout 5s ends in under 30 s, takes the others, and names the slow one', async () => {
    const message = (uid: number, fault?: HostileMessage['fault']): HostileMessage => ({
      uid,
      raw: Buffer.from(simpleMessage({ subject: `Message ${uid}`, messageId: `t${uid}@acme.test`, body: Array.from({ length: 40 }, (_, i) => `Line ${i} of message ${uid}.`).join('\r\n') })),
      ...(fault ? { fault } : {}),
    });
    server = await startHostileImapServer({ user: 'contracts@acme.test', password: 'c-pass', uidValidity, messages: [message(1), message(2, { kind: 'trickle', intervalMs: 2000 }), message(3)] });
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

    const started = Date.now();
    const run = await runCli(['daemon', '--once', '--json', '--timeout', '5s'], { env, timeoutMs: 45_000 });
    const elapsed = Date.now() - started;
    console.info(`daemon --once --timeout 5s against the trickling server: ${(elapsed / 1000).toFixed(1)} s`);
    expect(elapsed).toBeLessThan(30_000);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(1);
    const account = JSON.parse(run.stdout).accounts[0] as { status: string; poll: { processed: number; failed: Array<{ key: string; subject: string | null; error: string }> } };
    expect(account).toMatchObject({ status: 'ok', poll: { processed: 2 } });
    expect(account.poll.failed).toEqual([expect.objectContaining({ key: `imap:${uidValidity}:2`, subject: 'Message 2', error: expect.stringMatching(/did not finish .* within \d+(\.\d)?s/) })]);
    expect(server.messages.filter((m) => !m.seen).map((m) => m.uid)).toEqual([2]);
  }, 60_000);
});
