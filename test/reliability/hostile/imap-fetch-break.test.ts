import { afterEach, describe, expect, it } from 'vitest';
import { simpleMessage } from '../../helpers/messages.js';
import { bySize } from '../../helpers/reliability-tier.js';
import { runCli, runCliBytes } from '../../helpers/run-cli.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { startHostileImapServer, type HostileImapServer, type HostileMessage } from './hostile-imap-server.js';

// Issue 14, item 2 (IMAP): one message whose FETCH breaks mid-literal failed the whole
// fetch-ahead batch, on every poll: the messages fetched with it were lost for that poll and
// those after it were never reached.
const before = bySize(40, 8);
const uidValidity = 1_700_000_001;

interface Poll {
  listed: number;
  processed: number;
  dispositions: Record<string, number>;
  failed: Array<{ key: string; attempts: number; error: string; subject: string | null; from: string | null }>;
  quarantined: Array<{ key: string; attempts: number; communicationId: number; error: string }>;
}

describe('IMAP: a message whose FETCH breaks in the middle of its literal (hostile server)', () => {
  const tempDir = useTempDirs();
  let server: HostileImapServer | undefined;
  afterEach(async () => server?.close());

  it('the rest of its fetch-ahead batch and of the mailbox is taken in the same poll; it is retried, then quarantined on the third poll and marked read', async () => {
    const message = (uid: number, options: { fault?: HostileMessage['fault']; body?: string } = {}): HostileMessage => ({
      uid,
      raw: Buffer.from(simpleMessage({ subject: `Message ${uid}`, messageId: `m${uid}@acme.test`, body: options.body ?? `Body of message ${uid}.\r\n${'Some text. '.repeat(40)}` })),
      ...(options.fault ? { fault: options.fault } : {}),
    });
    // A small one that breaks in the middle of the first fetch-ahead batch (none of it ever
    // arrives), and a 600 KB one, downloaded in 256 KB windows, that breaks in its second window.
    const small = Math.ceil(before / 2);
    const big = before;
    const bigBody = `${'0123456789'.repeat(7)}\r\n`.repeat(8_000);
    server = await startHostileImapServer({
      user: 'contracts@acme.test', password: 'c-pass', uidValidity,
      messages: Array.from({ length: before }, (_, i) => i + 1).map((uid) => (uid === small ? message(uid, { fault: { kind: 'break' } }) : uid === big ? message(uid, { body: bigBody, fault: { kind: 'break', atByte: 400_000 } }) : message(uid))),
    });
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
    const poll = async (expectedCode: number) => {
      const run = await runCli(['daemon', '--once', '--json'], { env, timeoutMs: 60_000 });
      expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(expectedCode);
      expect(run.stderr).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/); // no stack trace
      const account = JSON.parse(run.stdout).accounts[0] as { status: string; poll: Poll };
      expect(account.status, run.stdout).toBe('ok');
      return account.poll;
    };
    const key = (uid: number) => `imap:${uidValidity}:${uid}`;
    const unseen = () => server!.messages.filter((m) => !m.seen).map((m) => m.uid);
    const broken = [small, big];

    // Poll 1: everything but the two broken messages is taken; each failure names its message
    // (the small one by the header fields the server gives on their own, the big one by its first window).
    const first = await poll(1);
    expect(first).toMatchObject({ listed: before, processed: before - 2, dispositions: { ignored: before - 2 } });
    expect(first.failed).toEqual(broken.map((uid) => expect.objectContaining({ key: key(uid), attempts: 1, subject: `Message ${uid}`, from: 'pat@acme.test' })));
    expect(unseen()).toEqual(broken);

    // Poll 2: new mail behind them flows; they fail again.
    server.messages.push(message(before + 1), message(before + 2));
    const second = await poll(1);
    expect(second).toMatchObject({ listed: 4, processed: 2 });
    expect(second.failed.map((f) => [f.key, f.attempts])).toEqual(broken.map((uid) => [key(uid), 2]));
    expect(unseen()).toEqual(broken);

    // Poll 3: their last attempt fails: quarantined with what arrived of them, and marked read.
    const third = await poll(0);
    expect(third).toMatchObject({ listed: 2, processed: 2, dispositions: { quarantined: 2 }, failed: [] });
    expect(third.quarantined.map((q) => [q.key, q.attempts])).toEqual(broken.map((uid) => [key(uid), 3]));
    expect(unseen()).toEqual([]);

    const comms = JSON.parse((await cli(['comms', 'list', '--json'])).stdout).communications as Array<{ id: number; mailboxKey: string; disposition: string; reason: string; subject: string; from: string; size: number }>;
    expect(comms).toHaveLength(before + 2);
    expect(comms.filter((c) => c.disposition === 'quarantined').map((c) => c.mailboxKey).sort()).toEqual(broken.map(key).sort());
    for (const uid of broken) {
      const quarantined = comms.find((c) => c.mailboxKey === key(uid))!;
      expect(quarantined).toMatchObject({ disposition: 'quarantined', subject: `Message ${uid}`, from: 'pat@acme.test' });
      expect(quarantined.reason).toMatch(/could not be fetched in 3 attempts/);
    }
    // Nothing of the small one ever arrived; of the big one, its first 256 KB window did: kept, said to be incomplete.
    expect(comms.find((c) => c.mailboxKey === key(small))).toMatchObject({ size: 0, reason: expect.stringContaining('none of its bytes arrived') });
    expect(comms.find((c) => c.mailboxKey === key(big))).toMatchObject({ size: 256 * 1024, reason: expect.stringContaining(`${256 * 1024} bytes arrived before the failure`) });
    const kept = await runCliBytes(['comms', 'raw', String(comms.find((c) => c.mailboxKey === key(big))!.id)], { env });
    expect(kept.stdout.equals(server.messages.find((m) => m.uid === big)!.raw.subarray(0, 256 * 1024))).toBe(true);

    // Poll 4: nothing left; no other message was ever fetched twice.
    const fourth = await poll(0);
    expect(fourth).toMatchObject({ listed: 0, processed: 0 });
    for (const [uid, count] of server.bodyRequests) if (!broken.includes(uid)) expect(count, `UID ${uid}`).toBe(1);
  }, 90_000);
});
