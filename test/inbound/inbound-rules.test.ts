import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { automaticKind } from '../../src/inbound/automatic-mail.js';
import { decide, recordTitle, titleOf, type RuleInput } from '../../src/inbound/inbound-rules.js';
import { parseMessage, type ParsedMessage } from '../../src/inbound/parse-message.js';
import { stripQuoted } from '../../src/inbound/strip-quoted.js';
import type { Contact } from '../../src/store/contacts-repo.js';
import { simpleMessage } from '../helpers/messages.js';

const parse = (raw: string) => parseMessage(Readable.from([Buffer.from(raw)]), { maxTextChars: 1_000_000 });
const contact = (email: string, canCreateIn: string[], isGuest = false): Contact => ({ id: 1, email, name: email, isGuest, canCreateIn, createdAt: '' });
const account: RuleInput['account'] = { table: 'contracts', allowRecordCreation: true, unknownSender: 'ignore', notes: 'new-text' };

async function input(over: Partial<RuleInput> & { raw?: string } = {}): Promise<RuleInput> {
  const message: ParsedMessage = await parse(over.raw ?? simpleMessage({ from: 'sam@elsewhere.test', subject: 'Hello', body: 'Hi\r\n\r\n> old text' }));
  return { account, message, automatic: automaticKind(message), reference: null, refused: [], sender: null, guest: null, ...over };
}

describe('the inbound rules', () => {
  it('a valid reference updates the record whoever sent it; new text only, or the whole body', async () => {
    const update = decide(await input({ reference: { recordId: 7, table: 'contracts', source: 'subject' } }));
    expect(update).toMatchObject({ action: 'update', recordId: 7, author: 'sam@elsewhere.test', note: 'Hi' });
    const whole = decide(await input({ account: { ...account, notes: 'whole-body' }, reference: { recordId: 7, table: 'contracts', source: 'header' } }));
    expect(whole).toMatchObject({ action: 'update', note: 'Hi\n\n> old text' });
  });

  it('a known contact creates a record only with permission in the table and creation allowed', async () => {
    expect(decide(await input({ sender: contact('sam@elsewhere.test', ['contracts']) }))).toMatchObject({ action: 'create', disposition: 'record-created', createdBy: 'sam@elsewhere.test', title: 'Hello' });
    expect(decide(await input({ sender: contact('sam@elsewhere.test', ['support']) }))).toMatchObject({ action: 'none', disposition: 'ignored', reason: expect.stringContaining('may not create records in contracts') });
    expect(decide(await input({ account: { ...account, allowRecordCreation: false }, sender: contact('sam@elsewhere.test', ['contracts']) }))).toMatchObject({ action: 'none', disposition: 'ignored' });
  });

  it('an unknown sender gets the account\'s policy: ignore, reject, or a record under the guest contact', async () => {
    expect(decide(await input())).toMatchObject({ disposition: 'ignored' });
    expect(decide(await input({ account: { ...account, unknownSender: 'reject' } }))).toMatchObject({ disposition: 'rejected' });
    const guest = contact('guest@acme.test', [], true);
    expect(decide(await input({ account: { ...account, unknownSender: 'guest', guestContact: guest.email }, guest }))).toMatchObject({ action: 'create', disposition: 'guest-record-created', createdBy: 'guest@acme.test', note: expect.stringContaining('<sam@elsewhere.test>') });
    expect(decide(await input({ account: { ...account, unknownSender: 'guest', guestContact: 'gone@acme.test' } }))).toMatchObject({ disposition: 'ignored', reason: expect.stringContaining('does not exist') });
  });

  it('automatic mail never creates or updates records, even with a reference', async () => {
    const cases: Array<[string, string]> = [
      ['Auto-Submitted: auto-replied', 'auto-reply'],
      ['X-Autoreply: yes', 'auto-reply'],
      ['Precedence: bulk', 'list'],
      ['List-Id: <announce.acme.test>', 'list'],
      ['X-Loop: records@acme.test', 'auto-reply'],
    ];
    for (const [header, kind] of cases) {
      const i = await input({ raw: simpleMessage({ headers: header }), reference: { recordId: 7, table: 'contracts', source: 'subject' }, sender: contact('pat@acme.test', ['contracts']) });
      expect(decide(i), header).toMatchObject({ action: 'none', disposition: kind });
    }
    const bounce = await input({ raw: simpleMessage({ from: 'MAILER-DAEMON@mx.acme.test', subject: 'Undelivered Mail Returned to Sender' }) });
    expect(decide(bounce)).toMatchObject({ action: 'none', disposition: 'bounce' });
  });

  it('an invalid sender is no contact, is named as written in a guest note, and every reason says why', async () => {
    const guest = contact('guest@acme.test', [], true);
    const raw = simpleMessage({ from: '"Dan Trial" <dan van trial@example.test>', subject: 'Invoice' });
    const created = decide(await input({ raw, account: { ...account, unknownSender: 'guest', guestContact: guest.email }, guest }));
    expect(created).toMatchObject({ disposition: 'guest-record-created', note: expect.stringMatching(/^From ""Dan Trial" <dan van trial@example\.test>" \(invalid From: white space inside the address/) });
    expect(created.reason).toContain('the sender is invalid: From');
    expect(JSON.stringify(created)).not.toContain('<trial@example.test>');
    expect(decide(await input({ raw, account: { ...account, unknownSender: 'reject' } }))).toMatchObject({ disposition: 'rejected', reason: expect.stringContaining('white space inside the address') });
    const reply = decide(await input({ raw, reference: { recordId: 7, table: 'contracts', source: 'subject' } }));
    expect(reply).toMatchObject({ action: 'update', author: '(invalid sender)' });
  });

  it('titles drop reply prefixes and our token', () => {
    expect(titleOf('RE: FW: Aw: Contract [ref:AbCdEfGhIjKlMnOpQrStUvWxYz01234567]')).toBe('Contract');
    expect(titleOf('   ')).toBe('(no subject)');
  });

  it('strips quoted history in the forms mail clients write', () => {
    expect(stripQuoted('Yes.\n\nOn Mon, 1 Jan 2026 at 10:00, Pat <pat@acme.test> wrote:\n> hi')).toBe('Yes.');
    expect(stripQuoted('Yes.\nOn Mon, 1 Jan 2026 at 10:00, Pat <pat@acme.test>\nwrote:\n> hi')).toBe('Yes.');
    expect(stripQuoted('Ok\r\n\r\n-----Original Message-----\r\nFrom: x')).toBe('Ok');
    expect(stripQuoted('Ok\n________________________________\nFrom: Pat\nSent: Monday')).toBe('Ok');
    expect(stripQuoted('Ok\nFrom: Pat <pat@acme.test>\nSent: Monday, 1 January 2026')).toBe('Ok');
    expect(stripQuoted('Danke\nAm 01.01.2026 um 10:00 schrieb Pat <pat@acme.test>:\n> hi')).toBe('Danke');
    expect(stripQuoted('No quote here.\nSecond line.')).toBe('No quote here.\nSecond line.');
  });

  it('parses a malformed message without throwing, and hashes it', async () => {
    const broken = 'From: a@b.test\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\nContent-Type: text/plain; charset=bogus-charset\r\n\r\n\u0000\u0001 bad bytes \r\n--y--';
    const parsed = await parse(broken);
    expect(parsed.from).toBe('a@b.test');
    expect(parsed.contentHash).toMatch(/^[0-9a-f]{64}$/);
    expect(parsed.messageId).toBeNull();
  });
});

describe('recordTitle: a record title from any subject', () => {
  it('is one line of at most 250 characters, without the reference token or reply prefixes', () => {
    expect(recordTitle('RE: Fwd: Renewal\r\n\tnext year [ref:abc_DEF-12]')).toBe('Renewal next year');
    expect(recordTitle('Invoice\u001b[2J\u0000x')).toBe('Invoice [2J x');
    const long = recordTitle(`RE: ${'a'.repeat(1_000_000)}`);
    expect(long).toHaveLength(250);
    expect(long.endsWith('…')).toBe(true);
    expect(recordTitle('\r\n')).toBe('(no subject)');
  });
});
