import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { PtySession } from '../helpers/pty-session.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const down = '\x1b[B';
const clearLine = '\x15';

describe('mailctl configure inbound on a terminal (pseudo-terminal, real binary, real Dovecot)', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'contracts@acme.test', password: 'right-pass' }] });
  });
  afterAll(() => dovecot?.stop());

  it('walks Table → Server → Account → Options → Finish; a failed Account step is corrected and passes', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await runCli(['init', '--name', 'acme-test', '--url', 'https://records.acme.test', '--environment', 'test'], { env });
    await runCli(['tables', 'add', 'contracts'], { env });
    await runCli(['contacts', 'add', 'guest@acme.test', '--name', 'Email guest', '--guest'], { env });
    const s = new PtySession(['configure', 'inbound'], env);
    try {
      await s.waitFor('Step 1 of 5: Table');
      await s.waitFor('Table this account feeds');
      s.type('\r'); // contracts
      await s.waitFor('Step 2 of 5: Server');
      await s.waitFor('Protocol');
      s.type('\r'); // IMAP
      await s.waitFor('IMAP host');
      s.type('127.0.0.1\r');
      await s.waitFor('Security');
      s.type(`${down}${down}\r`); // none
      await s.waitFor('Port');
      s.type(`${clearLine}${dovecot.imapPort}\r`);
      await s.waitFor(/✓ Server 127\.0\.0\.1:\d+ is reachable \(no TLS\): \* OK/);
      await s.waitFor('Step 3 of 5: Account');
      await s.waitFor('Authentication');
      s.type('\r'); // password
      await s.waitFor('User name');
      s.type('contracts@acme.test\r');
      await s.waitFor('Password');
      s.type('wrong-pass\r');
      await s.waitFor('Folder to read');
      s.type('\r'); // INBOX
      await s.waitFor(/✗ Account check failed during auth/);
      await s.waitFor('The IMAP server refused the login');
      await s.waitFor('What now?');
      s.type('\r'); // Change the account settings
      await s.waitFor('Authentication');
      s.type('\r');
      await s.waitFor('User name');
      s.type('\r'); // keeps contracts@acme.test
      await s.waitFor('Password');
      s.type('right-pass\r');
      await s.waitFor('Folder to read');
      s.type('\r');
      await s.waitFor('✓ The account is valid: folder INBOX, 0 message(s), 0 unread.');
      await s.waitFor('Step 4 of 5: Options');
      await s.waitFor('May email from known contacts create new records?');
      s.type('\r'); // yes
      await s.waitFor('Email from unknown senders');
      s.type(`${down}${down}\r`); // guest
      await s.waitFor('Guest contact');
      s.type('\r'); // guest@acme.test
      await s.waitFor('What goes into the additional notes');
      s.type('\r'); // new text only
      await s.waitFor('After a message is processed');
      s.type('\r'); // mark as read
      await s.waitFor('Step 5 of 5: Finish');
      await s.waitFor('Saved the inbound account of contracts');
      expect(await s.exited).toBe(0);
      expect(s.screen).not.toContain('right-pass');
    } finally {
      s.kill();
    }
    const account = JSON.parse(readFileSync(join(env.MAILCTL_HOME, 'config.json'), 'utf8')).inbound.contracts;
    expect(account).toMatchObject({ protocol: 'imap', host: '127.0.0.1', port: dovecot.imapPort, security: 'none', folder: 'INBOX', allowRecordCreation: true, unknownSender: 'guest', guestContact: 'guest@acme.test', notes: 'new-text', afterProcessing: 'mark-read', auth: { type: 'password', username: 'contracts@acme.test', password: '${secret:inbound/contracts/password}' } });
    expect((await runCli(['test-inbound', 'contracts'], { env })).code).toBe(0);
  });

  it('a move folder that is not on the server: the Options step offers to create it (or to name another)', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await runCli(['init', '--name', 'acme-test', '--url', 'https://records.acme.test', '--environment', 'test'], { env });
    await runCli(['tables', 'add', 'contracts'], { env });
    // Every answer is a flag but the password and the question under test.
    const s = new PtySession(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none', '--auth', 'password',
      '--username', 'contracts@acme.test', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore', '--notes', 'new-text', '--after', 'move', '--move-to', 'Archive'], env);
    try {
      await s.waitFor('Password');
      s.type('right-pass\r');
      await s.waitFor('✓ The account is valid');
      await s.waitFor('Step 4 of 5: Options');
      await s.waitFor('There is no folder "Archive" on the server. Create it?');
      s.type('n\r'); // no: name another one
      await s.waitFor('Move processed messages to folder');
      s.type(`${clearLine}Archive/Contracts\r`);
      await s.waitFor('There is no folder "Archive/Contracts" on the server. Create it?');
      s.type('\r'); // yes (the default)
      await s.waitFor('✓ Created the folder "Archive/Contracts" on the server.');
      await s.waitFor('Saved the inbound account of contracts');
      await s.waitFor('after processing: move to Archive/Contracts');
      expect(await s.exited).toBe(0);
    } finally {
      s.kill();
    }
    expect(existsSync(join(dovecot.maildir('contracts@acme.test'), '.Archive.Contracts'))).toBe(true);
    expect(existsSync(join(dovecot.maildir('contracts@acme.test'), '.Archive'))).toBe(false);
    const account = JSON.parse(readFileSync(join(env.MAILCTL_HOME, 'config.json'), 'utf8')).inbound.contracts;
    expect(account).toMatchObject({ afterProcessing: 'move', moveTo: 'Archive/Contracts' });
  });
});
