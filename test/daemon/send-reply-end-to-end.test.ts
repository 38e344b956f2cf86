import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImapFlow } from 'imapflow';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { startPostfix, type Postfix } from '../helpers/postfix.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { parseHeaderBlock } from '../../src/mime/header-block.js';

/** Reads every message in a mailbox over IMAP (raw). */
async function fetchAll(port: number, user: string, pass: string): Promise<Buffer[]> {
  const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user, pass }, logger: false });
  await client.connect();
  const out: Buffer[] = [];
  const lock = await client.getMailboxLock('INBOX');
  try {
    const status = await client.status('INBOX', { messages: true });
    if (status && status.messages) for await (const m of client.fetch('1:*', { source: true })) out.push(m.source!);
  } finally {
    lock.release();
    await client.logout();
  }
  return out;
}

describe('send → daemon → Postfix → Dovecot, and the reply comes back into the record', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  let postfix: Postfix;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'pat@acme.test', password: 'p-pass' }, { name: 'contracts@acme.test', password: 'c-pass' }] });
    postfix = await startPostfix({ domain: 'acme.test', mailboxes: ['pat@acme.test', 'contracts@acme.test'], mailRoot: join(dovecot.dir, 'mail') });
  });
  afterAll(async () => {
    await postfix?.stop();
    await dovecot?.stop();
  });

  it('delivers with the reference; a reply without the custom header updates the right record; a duplicate send is held back', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const json = async (args: string[], input?: string) => {
      const r = await runCli([...args, '--json'], { env, ...(input !== undefined ? { input } : {}) });
      expect(r.code, `${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
      return JSON.parse(r.stdout);
    };
    await json(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await json(['tables', 'add', 'contracts']);
    await json(['contacts', 'add', 'pat@acme.test', '--can-create', 'contracts']);
    const record = (await json(['records', 'add', '--table', 'contracts', '--title', 'MSA renewal'])).record;
    await json(['configure', 'server', '--host', '127.0.0.1', '--port', String(postfix.port), '--security', 'none', '--auth', 'none', '--from', 'contracts@acme.test']);
    await json(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none', '--auth', 'password',
      '--username', 'contracts@acme.test', '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore', '--notes', 'new-text', '--after', 'mark-read'], 'c-pass');

    const sendArgs = ['send', '--table', 'contracts', '--record', String(record.id), '--to', 'pat@acme.test', '--subject', 'Renewal due', '--body', 'Please confirm the renewal.', '--rule', 'renewal-reminder'];
    const queued = await json(sendArgs);
    expect(queued).toMatchObject({ queued: true });
    const duplicate = await json(sendArgs);
    expect(duplicate).toMatchObject({ duplicate: true, duplicateOf: queued.id, rule: 'renewal-reminder' });

    const cycle = await json(['daemon', '--once']);
    expect(cycle.outbound).toMatchObject({ claimed: 1, sent: 1 });
    let delivered: Buffer[] = [];
    for (let i = 0; i < 50 && delivered.length === 0; i++) {
      delivered = await fetchAll(dovecot.imapPort, 'pat@acme.test', 'p-pass');
      if (delivered.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(delivered).toHaveLength(1);
    const sent = parseHeaderBlock(delivered[0]!);
    expect(sent.get('subject')).toMatch(/^Renewal due \[ref:[A-Za-z0-9_-]{34}\]$/);
    const { writeFileSync } = await import('node:fs');
    const eml = join(env.MAILCTL_HOME, 'sent.eml');
    writeFileSync(eml, delivered[0]!);
    expect(await json(['headers', 'decode', eml])).toMatchObject({ reference: { table: 'contracts', recordId: record.id, origin: 'rule:renewal-reminder' } });

    // Pat replies from a client that drops custom headers and In-Reply-To: only "RE: subject" is left.
    dovecot.deliver('contracts@acme.test', [
      'From: Pat Lee <pat@acme.test>', 'To: contracts@acme.test', `Subject: RE: ${sent.get('subject')}`, 'Message-ID: <reply-77@acme.test>', '',
      'Confirmed, go ahead.', '', '-----Original Message-----', 'Please confirm the renewal.', '',
    ].join('\r\n'));
    const inbound = await json(['daemon', '--once']);
    expect(inbound.accounts[0].poll.dispositions).toEqual({ 'record-updated': 1 });
    const shown = await json(['records', 'show', String(record.id)]);
    expect(shown.notes.map((n: { author: string; body: string }) => [n.author, n.body])).toEqual([['pat@acme.test', 'Confirmed, go ahead.']]);
    const list = await json(['queue', 'list']);
    expect(list.counts).toEqual({ sent: 1, duplicate: 1 });

    // Later the remote side bounces it (a delivery status report with our message's headers inside).
    dovecot.deliver('contracts@acme.test', [
      'From: MAILER-DAEMON@mx.partner.test', 'To: contracts@acme.test', 'Subject: Undelivered Mail Returned to Sender', 'Message-ID: <dsn-1@mx.partner.test>',
      'MIME-Version: 1.0', 'Content-Type: multipart/report; report-type=delivery-status; boundary="b"', '',
      '--b', 'Content-Type: text/plain', '', 'Your message could not be delivered.', '',
      '--b', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx.partner.test', '', 'Final-Recipient: rfc822; pat@acme.test', 'Action: failed', 'Status: 5.1.1', '',
      '--b', 'Content-Type: text/rfc822-headers', '', `Message-ID: ${sent.get('message-id')}`, `Subject: ${sent.get('subject')}`, '', '--b--', '',
    ].join('\r\n'));
    const bounce = await json(['daemon', '--once']);
    expect(bounce.accounts[0].poll.dispositions).toEqual({ bounce: 1 });
    const comms = (await json(['comms', 'list'])).communications as Array<{ direction: string; disposition: string; messageId: string | null }>;
    expect(comms.find((c) => c.direction === 'outbound' && c.messageId === sent.get('message-id')!.slice(1, -1))).toMatchObject({ disposition: 'bounced' });
    expect((await json(['records', 'show', String(record.id)])).notes).toHaveLength(1); // a bounce never touches the record
  });
});
