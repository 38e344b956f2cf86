import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHeaderBlock } from '../../src/mime/header-block.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { runCli } from '../helpers/run-cli.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const cases = fileURLToPath(new URL('../fixtures/inbound-cases/', import.meta.url));
const caseFile = (name: string) => readFileSync(`${cases}${name}`);

interface Comm { id: number; direction: string; messageId: string | null; disposition: string; recordId: number | null; reason: string | null }

/**
 * Issue 16's automatic-mail cases (test/fixtures/inbound-cases/, from the shared cases with
 * their right values), and what automatic mail about our own message does: through a real
 * Dovecot and `mailctl daemon --once`.
 */
describe('automatic mail through Dovecot and daemon --once (issue 16 cases)', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  let sink: SmtpSink;
  beforeAll(async () => {
    [dovecot, sink] = await Promise.all([startDovecot({ users: [{ name: 'support@acme.test', password: 's-pass' }] }), startSmtpSink()]);
  });
  afterAll(async () => {
    await sink?.close();
    await dovecot?.stop();
  });

  it('localized auto-replies make no record, a person with Return-Path <> does; automatic mail about our message is linked but adds no note; delay then bounce; our own copy is own-copy', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const json = async (args: string[], input?: string) => {
      const r = await runCli([...args, '--json'], { env, ...(input !== undefined ? { input } : {}) });
      expect(r.code, `${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
      return JSON.parse(r.stdout);
    };
    await json(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await json(['tables', 'add', 'support']);
    await json(['contacts', 'add', 'pat@acme.test', '--name', 'Pat Lee', '--can-create', 'support']);
    await json(['contacts', 'add', 'guest@acme.test', '--name', 'Email guest', '--guest']);
    await json(['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'none', '--from', 'kb@acme.test']);
    await json(['configure', 'inbound', 'support', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none', '--auth', 'password',
      '--username', 'support@acme.test', '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'guest', '--guest', 'guest@acme.test',
      '--notes', 'new-text', '--after', 'mark-read'], 's-pass');
    const record = (await json(['records', 'add', '--table', 'support', '--title', 'Neue Bestellung', '--created-by', 'pat@acme.test'])).record;
    await json(['send', '--table', 'support', '--record', String(record.id), '--to', 'ann@example.test', '--subject', 'Neue Bestellung', '--body', 'Ihre Bestellung ist eingegangen.']);
    expect((await json(['daemon', '--once'])).outbound).toMatchObject({ sent: 1 });
    const sent = sink.messages[0]!.raw.toString('utf8');
    const ours = parseHeaderBlock(sent);
    const ourId = ours.get('message-id')!;

    // The four cases as they are, and an auto-reply to our message that carries only the German subject and X-Auto-Response-Suppress.
    for (const name of ['auto-reply-de-no-auto-submitted.eml', 'auto-reply-fr-no-auto-submitted.eml', 'auto-reply-nl-no-auto-submitted.eml', 'null-return-path-person.eml']) dovecot.deliver('support@acme.test', caseFile(name));
    dovecot.deliver('support@acme.test', caseFile('auto-reply-de-no-auto-submitted.eml').toString('utf8')
      .replace('Subject: Automatische Antwort: Neue Bestellung', `Subject: Automatische Antwort: ${ours.get('subject')}\r\nIn-Reply-To: ${ourId}\r\nReferences: ${ourId}`)
      .replace('<oof-a@example.test>', '<oof-ours@example.test>'));
    // A Postfix delay warning (text, not a report) with our headers inline, and our own copy (a Bcc to ourselves).
    dovecot.deliver('support@acme.test', [
      'Return-Path: <>', 'From: MAILER-DAEMON@mx.example.test (Mail Delivery System)', 'To: kb@acme.test', 'Subject: Delayed Mail (still being retried)',
      'Message-ID: <delay-1@mx.example.test>', 'Date: Fri, 27 Nov 2026 16:00:00 +0000', 'Auto-Submitted: auto-replied', 'Content-Type: text/plain; charset=us-ascii', '',
      'This is the mail system at host mx.example.test.', '', '####################################################################',
      '# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #', '####################################################################', '',
      'Your message could not be delivered for more than 4 hour(s).', 'It will be retried until it is 5 day(s) old.', '',
      '--- Below this line is a copy of the message headers.', '', 'From: kb@acme.test', 'To: ann@example.test', `Message-ID: ${ourId}`, `Subject: ${ours.get('subject')}`, '',
    ].join('\r\n'));
    dovecot.deliver('support@acme.test', sent);

    const first = await json(['daemon', '--once']);
    expect(first.accounts[0].poll).toMatchObject({ listed: 7, processed: 7 });
    const comms = async () => (await json(['comms', 'list', '--table', 'support'])).communications as Comm[];
    let all = await comms();
    const by = (id: string) => all.find((c) => c.direction === 'inbound' && c.messageId === id)!;
    for (const id of ['oof-a@example.test', 'oof-b@example.test', 'oof-c@example.test']) expect(by(id), id).toMatchObject({ disposition: 'auto-reply', recordId: null });
    // Return-Path <> alone: a person's message, a record under the guest contact.
    expect(by('case10.null-return-path@example.test')).toMatchObject({ disposition: 'guest-record-created' });
    const records = (await json(['records', 'list', '--table', 'support'])).records as Array<{ id: number; title: string; createdBy: string }>;
    expect(records.map((r) => [r.title, r.createdBy]).sort()).toEqual([['Can I change my delivery address?', 'guest@acme.test'], ['Neue Bestellung', 'pat@acme.test']]);
    // The auto-reply to our message: linked to its record, no note, "updated by" unchanged, no mail sent.
    expect(by('oof-ours@example.test')).toMatchObject({ disposition: 'auto-reply', recordId: record.id });
    const shown = await json(['records', 'show', String(record.id)]);
    expect(shown.notes).toEqual([]);
    expect(shown.record.updatedBy).toBe('pat@acme.test');
    expect(by('delay-1@mx.example.test')).toMatchObject({ disposition: 'delay', recordId: record.id });
    expect(by(ourId.slice(1, -1))).toMatchObject({ disposition: 'own-copy', recordId: null });
    const outbound = () => all.find((c) => c.direction === 'outbound')!;
    expect(outbound()).toMatchObject({ disposition: 'delayed' });
    expect(outbound().reason).toContain('Delayed Mail');

    // Later the same message bounces for good (Exchange's "Undeliverable:" with our message attached): bounced.
    dovecot.deliver('support@acme.test', [
      'Return-Path: <>', 'From: Microsoft Outlook <postmaster@example.test>', 'To: kb@acme.test', `Subject: Undeliverable: ${ours.get('subject')}`,
      'Message-ID: <ndr-1@example.test>', 'Date: Sat, 28 Nov 2026 09:00:00 +0000', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="ndr"', '',
      '--ndr', 'Content-Type: text/plain; charset=us-ascii', '', 'Delivery has failed to these recipients or groups:', '', 'ann@example.test', 'The mailbox is full.', '',
      '--ndr', 'Content-Type: message/rfc822', '', sent.replace(/\r\n$/, ''), '--ndr--', '',
    ].join('\r\n'));
    const second = await json(['daemon', '--once']);
    expect(second.accounts[0].poll.dispositions).toEqual({ bounce: 1 });
    all = await comms();
    expect(by('ndr-1@example.test')).toMatchObject({ disposition: 'bounce', recordId: record.id });
    expect(outbound()).toMatchObject({ disposition: 'bounced' });
    expect((await json(['records', 'show', String(record.id)])).notes).toEqual([]);
    // Nothing answered any of it: the one message sent is ours.
    expect(sink.messages).toHaveLength(1);
  });
});
