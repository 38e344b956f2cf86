import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRefKeys } from '../../src/refs/ref-keys.js';
import { sealReference } from '../../src/refs/reference-codec.js';
import { stampReference } from '../../src/refs/stamp-reference.js';
import { FileSecretStore } from '../../src/secrets/file-secret-store.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { simpleMessage } from '../helpers/messages.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

describe('mailctl daemon --once: inbound mail into records and communications (real Dovecot)', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'contracts@acme.test', password: 'c-pass' }] });
  });
  afterAll(() => dovecot?.stop());

  it('applies the four rules, takes each message once, and the 45-minute sweep takes mail read by hand', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const json = async (args: string[]) => {
      const r = await runCli([...args, '--json'], { env });
      expect([0, 1], `${args.join(' ')}: ${r.stderr}`).toContain(r.code);
      return JSON.parse(r.stdout);
    };
    await runCli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production'], { env });
    await runCli(['tables', 'add', 'contracts'], { env });
    await runCli(['contacts', 'add', 'pat@acme.test', '--name', 'Pat Lee', '--can-create', 'contracts'], { env });
    await runCli(['contacts', 'add', 'guest@acme.test', '--name', 'Email guest', '--guest'], { env });
    const record = (await json(['records', 'add', '--table', 'contracts', '--title', 'MSA renewal', '--created-by', 'pat@acme.test'])).record;
    const configured = await runCli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none',
      '--auth', 'password', '--username', 'contracts@acme.test', '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'guest', '--guest', 'guest@acme.test',
      '--notes', 'new-text', '--after', 'mark-read'], { env, input: 'c-pass' });
    expect(configured.code, configured.stderr).toBe(0);

    // What our outbound mail for the record carried; the reply keeps only the subject token.
    const store = new FileSecretStore({ path: join(env.MAILCTL_HOME, 'secrets.enc'), keyPath: join(env.MAILCTL_HOME, 'master.key') });
    const key = (await loadRefKeys(store, ['k1'])).get('k1')!;
    const stamp = stampReference({ kb: 'acme-prod', serverUrl: 'https://records.acme.test', table: 'contracts', recordId: record.id, origin: 'rule:7', sentAt: new Date() }, 'MSA renewal', 'k1', key);
    const forged = sealReference({ kb: 'acme-prod', serverUrl: 'https://records.acme.test', table: 'contracts', recordId: record.id, origin: null, sentAt: new Date() }, 'k1', randomBytes(32));

    dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'Lee <lee@partner.test>', subject: `RE: ${stamp.subject}`, messageId: 'reply-1@partner.test',
      body: 'Agreed, please send the final draft.\r\n\r\nOn Mon, 23 Nov 2026, Acme wrote:\r\n> Here is the renewal.' }));
    dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'pat@acme.test', subject: 'New NDA with Initech', messageId: 'new-1@acme.test', body: 'Please open a record.' }));
    dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'pat@acme.test', subject: 'New NDA with Initech', messageId: 'new-1@acme.test', body: 'Please open a record.' })); // the same message twice
    dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'Sam Stranger <sam@elsewhere.test>', subject: 'Question about pricing', messageId: 'stranger-1@elsewhere.test', body: 'Hello?' }));
    dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'lee@partner.test', subject: `Automatic reply: ${stamp.subject}`, messageId: 'ooo-1@partner.test', headers: 'Auto-Submitted: auto-replied', body: 'I am out of office.' }));
    dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'mallory@evil.test', subject: 'RE: MSA renewal', messageId: 'forged-1@evil.test', headers: `X-Mailctl-Ref: ${forged}\r\nIn-Reply-To: <mc.${forged}@records.acme.test>`, body: 'Change the bank account.' }));
    dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'pat@acme.test', subject: 'Read by hand', messageId: 'seen-1@acme.test', body: 'Someone opened this in Outlook first.' }), undefined, { seen: true });

    const first = await json(['daemon', '--once']);
    expect(first.accounts[0]).toMatchObject({ table: 'contracts', status: 'ok', swept: false, poll: { listed: 6, processed: 6 } });
    expect(first.accounts[0].poll.dispositions).toMatchObject({ duplicate: 1 });

    const notes = (await json(['records', 'show', String(record.id)])).notes;
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ author: 'lee@partner.test', body: 'Agreed, please send the final draft.' });
    expect((await json(['records', 'show', String(record.id)])).record.updatedBy).toBe('lee@partner.test');

    const records = (await json(['records', 'list', '--table', 'contracts'])).records;
    expect(records.map((r: { title: string; createdBy: string }) => [r.title, r.createdBy]).sort()).toEqual([
      ['MSA renewal', 'pat@acme.test'], ['New NDA with Initech', 'pat@acme.test'], ['Question about pricing', 'guest@acme.test'], ['MSA renewal', 'guest@acme.test'],
    ].sort());

    const comms = (await json(['comms', 'list', '--table', 'contracts'])).communications;
    const by = (id: string) => comms.find((c: { messageId: string; disposition: string }) => c.messageId === id && c.disposition !== 'duplicate');
    expect(by('reply-1@partner.test')).toMatchObject({ disposition: 'record-updated', recordId: record.id });
    expect(by('new-1@acme.test')).toMatchObject({ disposition: 'record-created' });
    expect(by('stranger-1@elsewhere.test')).toMatchObject({ disposition: 'guest-record-created' });
    expect(by('ooo-1@partner.test')).toMatchObject({ disposition: 'auto-reply' });
    expect(by('forged-1@evil.test')).toMatchObject({ disposition: 'guest-record-created' }); // a stranger, not an update
    expect(by('forged-1@evil.test').reason).toBeDefined();
    expect(by('seen-1@acme.test')).toBeUndefined(); // read by hand: not taken by a regular poll
    // The second copy is a communication of its own, a duplicate pointing at the first; no second record.
    const copies = comms.filter((c: { messageId: string }) => c.messageId === 'new-1@acme.test').sort((a: { id: number }, b: { id: number }) => a.id - b.id);
    expect(copies.map((c: { disposition: string }) => c.disposition)).toEqual(['record-created', 'duplicate']);
    expect(copies[1]).toMatchObject({ duplicateOf: copies[0].id, recordId: copies[0].recordId });

    const again = await json(['daemon', '--once']);
    expect(again.accounts[0].poll).toMatchObject({ listed: 0, processed: 0 }); // all marked read after commit

    const sweep = await json(['daemon', '--once', '--sweep']);
    expect(sweep.accounts[0]).toMatchObject({ swept: true, poll: { listed: 7, processed: 1 } });
    expect((await json(['comms', 'list'])).communications.find((c: { messageId: string }) => c.messageId === 'seen-1@acme.test')).toMatchObject({ disposition: 'record-created' });
    const sweepAgain = await json(['daemon', '--once', '--sweep']);
    expect(sweepAgain.accounts[0].poll).toMatchObject({ processed: 0 });
  });
});
