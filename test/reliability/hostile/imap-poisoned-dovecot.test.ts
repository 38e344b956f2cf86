import { chmodSync, readdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../../helpers/dovecot.js';
import { simpleMessage } from '../../helpers/messages.js';
import { runCli } from '../../helpers/run-cli.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

// Issue 14, per-message isolation, on a real server: one message Dovecot cannot read (its file
// lost its permissions on disk) ends the session at every FETCH of it ("* BYE Internal error").
// Today that failed the whole fetch-ahead batch and the poll, every poll: nothing after it was taken.
const user = 'contracts@acme.test';

interface Poll {
  listed: number;
  processed: number;
  alreadyTaken: number;
  dispositions: Record<string, number>;
  failed: Array<{ key: string; attempts: number; error: string }>;
  quarantined: Array<{ key: string; attempts: number; communicationId: number }>;
}

describe('IMAP on Dovecot: a message the server cannot read', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: user, password: 'c-pass' }] });
  });
  afterAll(() => dovecot?.stop());

  it('is tried at three polls while the rest of the mailbox flows, then quarantined, and never deleted (--after delete)', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const cli = async (args: string[], input?: string) => {
      const r = await runCli(args, { env, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
      expect(r.code, `mailctl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
      return r;
    };
    await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await cli(['tables', 'add', 'contracts']);
    await cli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none', '--auth', 'password',
      '--username', user, '--secret-stdin', '--folder', 'INBOX', '--no-create-records', '--unknown-sender', 'ignore', '--notes', 'new-text', '--after', 'delete'], 'c-pass');

    const inbox = join(dovecot.maildir(user), 'new');
    const files = () => [...readdirSync(inbox), ...readdirSync(join(dovecot.maildir(user), 'cur'))];
    for (let i = 1; i <= 5; i++) dovecot.deliver(user, simpleMessage({ subject: `Message ${i}`, messageId: `m${i}@acme.test` }));
    // The second message: its size in its name (so Dovecot lists it without reading it, as it
    // does for mail it delivered itself), its content unreadable to Dovecot's mail processes.
    const second = readdirSync(inbox).sort()[1]!;
    const size = statSync(join(inbox, second)).size;
    const poisoned = `${second},S=${size},W=${size}`;
    renameSync(join(inbox, second), join(inbox, poisoned));
    chmodSync(join(inbox, poisoned), 0);

    const poll = async (expectedCode: number) => {
      const run = await runCli(['daemon', '--once', '--json'], { env, timeoutMs: 60_000 });
      expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(expectedCode);
      expect(run.stderr).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
      const account = JSON.parse(run.stdout).accounts[0] as { status: string; poll: Poll };
      expect(account.status, run.stdout).toBe('ok');
      return account.poll;
    };
    const stillThere = () => files().filter((f) => f.startsWith(second));

    // Poll 1: the four readable messages are taken (and deleted); the unreadable one fails, named.
    const first = await poll(1);
    expect(first).toMatchObject({ listed: 5, processed: 4, dispositions: { ignored: 4 } });
    expect(first.failed).toHaveLength(1);
    const key = first.failed[0]!.key;
    expect(first.failed[0]).toMatchObject({ attempts: 1, error: expect.stringContaining('Internal error') });
    expect(files()).toHaveLength(1);

    // Poll 2: new mail flows past it.
    dovecot.deliver(user, simpleMessage({ subject: 'Message 6', messageId: 'm6@acme.test' }));
    const second2 = await poll(1);
    expect(second2).toMatchObject({ listed: 2, processed: 1 });
    expect(second2.failed.map((f) => [f.key, f.attempts])).toEqual([[key, 2]]);

    // Poll 3: its last attempt: quarantined, with none of its bytes (none arrived), and not deleted.
    const third = await poll(0);
    expect(third).toMatchObject({ listed: 1, processed: 1, dispositions: { quarantined: 1 }, failed: [] });
    expect(third.quarantined.map((q) => [q.key, q.attempts])).toEqual([[key, 3]]);
    expect(stillThere()).toHaveLength(1);
    const comms = JSON.parse((await cli(['comms', 'list', '--json'])).stdout).communications as Array<{ mailboxKey: string; disposition: string; reason: string; size: number }>;
    expect(comms).toHaveLength(6);
    expect(comms.find((c) => c.mailboxKey === key)).toMatchObject({ disposition: 'quarantined', size: 0, reason: expect.stringMatching(/could not be fetched in 3 attempts .*Internal error.*none of its bytes arrived/) });

    // Poll 4 and after: recognised by its key, left alone (an account that deletes never deletes it).
    const fourth = await poll(0);
    expect(fourth).toMatchObject({ listed: 1, processed: 0, alreadyTaken: 1, failed: [] });
    expect(stillThere()).toHaveLength(1);
  }, 120_000);
});
