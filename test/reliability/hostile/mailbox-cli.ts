import { expect } from 'vitest';
import { runCli } from '../../helpers/run-cli.js';

/** A poll's result as `daemon --once --json` prints it (the fields these tests read). */
export interface PollJson {
  listed: number;
  processed: number;
  alreadyTaken: number;
  failed: Array<{ key: string; attempts: number; error: string }>;
}

export interface StoredCommunication {
  mailboxKey: string;
  subject: string;
  size: number;
  disposition: string;
}

/**
 * A knowledge base in `home` with the table "contracts" and its inbound mailbox on the test
 * server at `port` (no records, unknown senders ignored), and the CLI calls the tests make.
 */
export async function mailboxCli(home: string, inbound: { protocol: 'imap' | 'pop3'; port: number; after: 'delete' | 'mark-read' | 'keep' }) {
  const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
  const cli = async (args: string[], input?: string) => {
    const r = await runCli(args, { env, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
    expect(r.code, `mailctl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
    return r;
  };
  await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
  await cli(['tables', 'add', 'contracts']);
  await cli(['configure', 'inbound', 'contracts', '--protocol', inbound.protocol, '--host', '127.0.0.1', '--port', String(inbound.port), '--security', 'none', '--auth', 'password',
    '--username', 'contracts@acme.test', '--secret-stdin', '--folder', 'INBOX', '--no-create-records', '--unknown-sender', 'ignore', '--notes', 'new-text', '--after', inbound.after, '--no-verify'], 'c-pass');
  return {
    /** One `daemon --once --json`: its exit code and the account's poll. */
    poll: async (): Promise<{ code: number; poll: PollJson; stdout: string }> => {
      const r = await runCli(['daemon', '--once', '--json'], { env, timeoutMs: 60_000 });
      expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
      const account = JSON.parse(r.stdout).accounts[0] as { status: string; poll: PollJson };
      expect(account.status, r.stdout).toBe('ok');
      return { code: r.code, poll: account.poll, stdout: r.stdout };
    },
    /** The communications stored, oldest first. */
    stored: async (): Promise<StoredCommunication[]> => (JSON.parse((await cli(['comms', 'list', '--json'])).stdout).communications as StoredCommunication[]).reverse(),
  };
}
