import { afterEach, describe, expect, it } from 'vitest';
import { simpleMessage } from '../../helpers/messages.js';
import { startPop3Server, type Pop3TestServer, type Pop3TestUser } from '../../helpers/pop3-server.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { mailboxCli } from './mailbox-cli.js';

// Issue 14 (found by the attack helper): a POP3 server that reuses UIDLs. Poll 1 took UIDL "1";
// in poll 2 a new message had UIDL "1" again and two messages shared UIDL "x2": "1 processed,
// 2 already taken", all DELEted, 2 of the 4 messages never stored.
const message = (subject: string, body: string) => Buffer.from(simpleMessage({ subject, messageId: `${subject.replace(/\W/g, '')}@partner.test`, body }));

describe('POP3: UIDLs reused for new mail, and repeated in one listing (hostile server)', () => {
  const tempDir = useTempDirs();
  let server: Pop3TestServer | undefined;
  afterEach(async () => server?.close());

  it('every message is stored before it is deleted', async () => {
    const user: Pop3TestUser = { password: 'c-pass', messages: [{ uidl: '1', raw: message('First', 'first') }] };
    server = await startPop3Server({ 'contracts@acme.test': user });
    const kb = await mailboxCli(tempDir(), { protocol: 'pop3', port: server.port, after: 'delete' });
    expect((await kb.poll()).poll).toMatchObject({ listed: 1, processed: 1, alreadyTaken: 0 });
    expect(user.messages).toEqual([]);

    user.messages = [
      { uidl: '1', raw: message('Second, new', 'a new message under an old UIDL') },
      { uidl: 'x2', raw: message('Third', 'third') },
      { uidl: 'x2', raw: message('Fourth, same UIDL as the third', 'fourth') },
    ];
    const second = await kb.poll();
    expect(second.poll, second.stdout).toMatchObject({ listed: 3, processed: 3, alreadyTaken: 0, failed: [] });
    expect(user.messages).toEqual([]);
    expect((await kb.stored()).map((c) => [c.mailboxKey, c.subject])).toEqual([
      ['pop3:1', 'First'], ['pop3:1 reused2', 'Second, new'], ['pop3:x2', 'Third'], ['pop3:x2 dup2', 'Fourth, same UIDL as the third'],
    ]);
  }, 60_000);

  it('kept on the server, the same messages are taken once, whatever their order in the next listing', async () => {
    const user: Pop3TestUser = { password: 'c-pass', messages: [{ uidl: 'a', raw: message('A', 'a') }, { uidl: 'b', raw: message('B', 'bb') }, { uidl: 'b', raw: message('B two', 'bbb') }] };
    server = await startPop3Server({ 'contracts@acme.test': user });
    const kb = await mailboxCli(tempDir(), { protocol: 'pop3', port: server.port, after: 'keep' });
    expect((await kb.poll()).poll).toMatchObject({ listed: 3, processed: 3 });
    user.messages.reverse();
    // "B two" is listed first now, as "pop3:b": its size is that of the message stored as "pop3:b dup2".
    expect((await kb.poll()).poll).toMatchObject({ listed: 3, processed: 0, alreadyTaken: 3 });
    expect(await kb.stored()).toHaveLength(3);
  }, 60_000);
});
