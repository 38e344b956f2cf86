import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { simpleMessage } from '../helpers/messages.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

describe('malformed mail never stops the daemon', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'contracts@acme.test', password: 'c-pass' }] });
  });
  afterAll(() => dovecot?.stop());

  it('a message that cannot be parsed is kept as a quarantined communication with the parse error; the rest go on', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await runCli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production'], { env });
    await runCli(['tables', 'add', 'contracts'], { env });
    await runCli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none', '--auth', 'password',
      '--username', 'contracts@acme.test', '--secret-stdin', '--folder', 'INBOX', '--no-create-records', '--unknown-sender', 'ignore', '--notes', 'new-text', '--after', 'mark-read'], { env, input: 'c-pass' });
    dovecot.deliver('contracts@acme.test', `From: a@b.test\r\nSubject: ${'x'.repeat(3_000_000)}\r\n\r\nbody\r\n`);
    dovecot.deliver('contracts@acme.test', 'From: \0\0@\0\r\nContent-Type: multipart/mixed; boundary=\r\nSubject: =?bogus?Q?=ZZ?=\r\n\r\n--\r\n\0\0\0');
    dovecot.deliver('contracts@acme.test', simpleMessage({ subject: 'fine', messageId: 'fine-1@acme.test' }));
    const run = await runCli(['daemon', '--once', '--json'], { env, timeoutMs: 60_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).accounts[0].poll).toMatchObject({ listed: 3, processed: 3 });
    const comms = JSON.parse((await runCli(['comms', 'list', '--json'], { env })).stdout).communications as Array<{ disposition: string; reason: string; messageId: string | null }>;
    expect(comms.filter((c) => c.disposition === 'quarantined').map((c) => c.reason)).toEqual([expect.stringContaining('Max header size')]);
    expect(comms.find((c) => c.messageId === 'fine-1@acme.test')).toMatchObject({ disposition: 'ignored' });
    expect(comms).toHaveLength(3);
  });
});
