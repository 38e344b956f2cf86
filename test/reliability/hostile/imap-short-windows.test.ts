import { afterEach, describe, expect, it } from 'vitest';
import { simpleMessage } from '../../helpers/messages.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { startHostileImapServer, type HostileImapServer } from './hostile-imap-server.js';
import { mailboxCli } from './mailbox-cli.js';

// Issue 14 (found by the attack helper): a server that lists RFC822.SIZE 644,103 and answers
// every BODY.PEEK[]<n.262144> with at most 100,000 bytes. mailctl took the first short window
// for the end of the message: 100,000 bytes stored as complete and, with --after delete, the
// original deleted. Exit 0, no warning.
const uidValidity = 1_700_000_014;
const cap = 100_000;
const big = (subject: string, lines: number) => Buffer.from(simpleMessage({ subject, messageId: `${subject.replace(/\W/g, '')}@partner.test`, body: 'line of the contract text, important content\r\n'.repeat(lines) + 'THE END' }));

describe('IMAP: a server whose partial FETCH windows come short (hostile server)', () => {
  const tempDir = useTempDirs();
  let server: HostileImapServer | undefined;
  afterEach(async () => server?.close());

  it('takes each message whole, or not at all: one cut short of its listed size fails and is neither stored nor deleted', async () => {
    const contract = big('Big contract', 14_000); // ~630 KB: streamed
    const annex = big('Annex', 3_500); // ~160 KB: fetched ahead
    const whole = big('Cut', 14_000);
    server = await startHostileImapServer({ user: 'contracts@acme.test', password: 'c-pass', uidValidity, messages: [
      { uid: 1, raw: contract, fault: { kind: 'short', maxBytes: cap } },
      // Listed at its true size, but the server has only its first 100,000 bytes.
      { uid: 2, raw: whole.subarray(0, cap), listedSize: whole.length },
      { uid: 3, raw: Buffer.from(simpleMessage({ subject: 'Small', messageId: 'small@partner.test' })) },
      { uid: 4, raw: annex, fault: { kind: 'short', maxBytes: cap } },
    ] });
    const kb = await mailboxCli(tempDir(), { protocol: 'imap', port: server.port, after: 'delete' });

    const { code, poll } = await kb.poll();
    expect(poll).toMatchObject({ listed: 4, processed: 3 });
    expect(poll.failed.map((f) => [f.key, f.attempts])).toEqual([[`imap:${uidValidity}:2`, 1]]);
    expect(poll.failed[0]!.error).toMatch(new RegExp(`listed at ${whole.length} bytes; ${cap} arrived`));
    expect(code).toBe(1);

    const stored = await kb.stored();
    expect(stored.map((c) => [c.subject, c.size])).toEqual([['Big contract', contract.length], ['Small', expect.any(Number)], ['Annex', annex.length]]);
    // Deleted (no UIDPLUS here: flagged \Deleted) only what was stored whole.
    expect(server.messages.map((m) => [m.uid, Boolean(m.deleted)])).toEqual([[1, true], [2, false], [3, true], [4, true]]);
  }, 60_000);
});
