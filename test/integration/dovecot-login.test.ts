import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImapFlow } from 'imapflow';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';

/** A minimal POP3 exchange: the line after each command. */
async function pop3Login(port: number, user: string, password: string): Promise<string[]> {
  const socket = connect({ port, host: '127.0.0.1' });
  const replies: string[] = [];
  let buffer = '';
  let waiting: (() => void) | undefined;
  socket.on('data', (d: Buffer) => { buffer += d.toString(); waiting?.(); });
  const next = async (): Promise<string> => {
    while (!buffer.includes('\r\n')) await new Promise<void>((resolve) => (waiting = resolve));
    const end = buffer.indexOf('\r\n');
    const line = buffer.slice(0, end);
    buffer = buffer.slice(end + 2);
    return line;
  };
  replies.push(await next());
  for (const command of [`USER ${user}`, `PASS ${password}`, 'QUIT']) {
    socket.write(`${command}\r\n`);
    replies.push(await next());
  }
  socket.destroy();
  return replies;
}

describe('the Dovecot test server', () => {
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'alice@acme.test', password: 'wonderland' }] });
  });
  afterAll(() => dovecot?.stop());

  it('accepts an IMAP login and serves a delivered message', async () => {
    dovecot.deliver('alice@acme.test', 'From: bob@acme.test\r\nTo: alice@acme.test\r\nSubject: hello\r\nMessage-ID: <1@acme.test>\r\n\r\nHi Alice\r\n');
    const client = new ImapFlow({ host: '127.0.0.1', port: dovecot.imapPort, secure: false, auth: { user: 'alice@acme.test', pass: 'wonderland' }, logger: false });
    await client.connect();
    const lock = await client.getMailboxLock('INBOX');
    try {
      const message = await client.fetchOne('*', { envelope: true });
      expect(message && message.envelope?.subject).toBe('hello');
    } finally {
      lock.release();
      await client.logout();
    }
  });

  it('rejects a wrong IMAP password', async () => {
    const client = new ImapFlow({ host: '127.0.0.1', port: dovecot.imapPort, secure: false, auth: { user: 'alice@acme.test', pass: 'wrong' }, logger: false });
    client.on('error', () => {});
    await expect(client.connect()).rejects.toMatchObject({ authenticationFailed: true });
  });

  it('accepts a POP3 login and refuses a wrong password', async () => {
    const good = await pop3Login(dovecot.pop3Port, 'alice@acme.test', 'wonderland');
    expect(good[0]).toMatch(/^\+OK/);
    expect(good[2]).toMatch(/^\+OK/);
    const bad = await pop3Login(dovecot.pop3Port, 'alice@acme.test', 'nope');
    expect(bad[2]).toMatch(/^-ERR/);
  });
});
