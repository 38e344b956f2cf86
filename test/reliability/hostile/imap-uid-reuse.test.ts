import { afterEach, describe, expect, it } from 'vitest';
import { simpleMessage } from '../../helpers/messages.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { startHostileImapServer, type HostileImapServer } from './hostile-imap-server.js';
import { mailboxCli } from './mailbox-cli.js';

// Issue 14 (found by the attack helper): a server that gives UID 1 to new mail under the same
// UIDVALIDITY (a rebuilt mailbox; RFC 3501 §2.3.1.1 forbids it). mailctl knew "imap:<v>:1" as
// taken and marked the new message done unread: "0 processed, 1 already taken".
const uidValidity = 1_700_000_015;
const message = (subject: string, body: string) => Buffer.from(simpleMessage({ subject, messageId: `${subject.replace(/\W/g, '')}@partner.test`, body }));

describe('IMAP: a UID reused for new mail under the same UIDVALIDITY (hostile server)', () => {
  const tempDir = useTempDirs();
  let server: HostileImapServer | undefined;
  afterEach(async () => server?.close());

  it('a message of another size under a taken key is taken (stored under a "reused" key); the same message again is only marked', async () => {
    server = await startHostileImapServer({ user: 'contracts@acme.test', password: 'c-pass', uidValidity, messages: [{ uid: 1, raw: message('First', 'first') }] });
    const kb = await mailboxCli(tempDir(), { protocol: 'imap', port: server.port, after: 'mark-read' });
    expect((await kb.poll()).poll).toMatchObject({ listed: 1, processed: 1, alreadyTaken: 0 });

    // The mailbox rebuilt: UID 1 is new mail.
    server.messages.splice(0, server.messages.length, { uid: 1, raw: message('New mail with a reused UID', 'a longer body than the first') });
    expect((await kb.poll()).poll).toMatchObject({ listed: 1, processed: 1, alreadyTaken: 0 });
    // A sweep lists both again (read now): they are known, only marked.
    server.messages[0]!.seen = false;
    server.messages.push({ uid: 2, raw: message('Third', 'third') });
    expect((await kb.poll()).poll).toMatchObject({ listed: 2, processed: 1, alreadyTaken: 1 });

    const key = `imap:${uidValidity}:1`;
    expect((await kb.stored()).map((c) => [c.mailboxKey, c.subject])).toEqual([[key, 'First'], [`${key} reused2`, 'New mail with a reused UID'], [`imap:${uidValidity}:2`, 'Third']]);
    expect(server.messages.every((m) => m.seen)).toBe(true);
  }, 60_000);
});
