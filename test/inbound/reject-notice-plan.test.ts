import { describe, expect, it } from 'vitest';
import { isPlainMailbox, mailboxOf, noticesPerHour, ownAddresses, planRejectNotice, quoteSubject } from '../../src/inbound/reject-notice.js';
import type { MailctlConfig } from '../../src/config/config-schema.js';

const policy = { from: 'Acme Records <records@acme.test>', intervalMs: 7 * 86_400_000, ownAddresses: ['contracts@acme.test'] };
const never = () => undefined;

describe('the plan for a notice to a rejected sender', () => {
  it('goes to a stranger with a subject of our own and a short, clean quote', () => {
    const plan = planRejectNotice({ policy, sender: 'sam@elsewhere.test', subject: `Re: \u001b[8mhidden\u001b[0m \u202eBUY NOW ${'x'.repeat(500)}`, table: 'contracts', lastNoticeAt: never });
    expect(plan).toMatchObject({ send: true, to: 'sam@elsewhere.test', subject: 'Not accepted: your message to contracts' });
    if (!plan.send) throw new Error('no notice');
    expect(plan.body).toMatch(/^Your message "Re: hidden BUY NOW x+…" to contracts was not accepted/);
    expect(plan.body).toContain('at most one every 7d');
  });

  it('never to the KB itself, to an address mail cannot go to, or twice within the interval', () => {
    const plan = (sender: string, last?: string) => planRejectNotice({ policy, sender, subject: 'Hi', table: 'contracts', lastNoticeAt: () => last });
    expect(plan('records@acme.test')).toEqual({ send: false, why: "no notice: records@acme.test is this KB's own address" });
    expect(plan('contracts@acme.test')).toMatchObject({ send: false });
    expect(plan(`${'a'.repeat(300)}@elsewhere.test`)).toMatchObject({ send: false, why: expect.stringContaining('not one mail can be sent to') });
    expect(plan('sam@elsewhere.test', '2026-11-27T10:00:00.000Z')).toEqual({ send: false, why: 'no notice: sam@elsewhere.test was sent one at 2026-11-27T10:00:00.000Z (at most one per reject_notice_interval 7d)' });
  });

  it('quotes no control, format or escape character and none of our own prefix', () => {
    expect(quoteSubject('Not accepted: Not accepted: \u0007bell\u200b zero\u2066width\r\nnext')).toBe('bell zero width next');
    expect([...quoteSubject('😀'.repeat(100))]).toHaveLength(60);
  });

  it('knows the KB\'s own addresses: outbound from and login, every inbound login and Graph mailbox', () => {
    const config = {
      outbound: { from: 'records@acme.test', auth: { type: 'password', username: 'Relay@Acme.test' } },
      inbound: { contracts: { auth: { username: 'contracts@acme.test' } }, support: { auth: { username: 'app-id' }, mailbox: 'Support@acme.test' } },
    } as unknown as MailctlConfig;
    expect(ownAddresses(config).sort()).toEqual(['contracts@acme.test', 'records@acme.test', 'relay@acme.test', 'support@acme.test']);
  });

  it('counts by the mailbox an address reaches: no tag, lower case, no trailing dot', () => {
    expect(mailboxOf('Victim+Spam@VICTIM.test.')).toBe('victim@victim.test');
    expect(mailboxOf('+only@x.test')).toBe('+only@x.test');
    const plan = (sender: string, seen: string[] = []) => planRejectNotice({ policy, sender, subject: 'Hi', table: 'contracts', lastNoticeAt: (m) => (seen.includes(m) ? '2026-11-27T10:00:00.000Z' : undefined) });
    expect(plan('victim+2@victim.test', ['victim@victim.test'])).toMatchObject({ send: false, why: expect.stringContaining('victim@victim.test was sent one') });
    expect(plan('records+x@acme.test')).toMatchObject({ send: false, why: expect.stringContaining("this KB's own address") });
    expect(plan('CONTRACTS+y@Acme.Test')).toMatchObject({ send: false, why: expect.stringContaining("this KB's own address") });
    expect(plan('victim+2@victim.test')).toMatchObject({ send: true, to: 'victim+2@victim.test' });
  });

  it('goes only to a plain mailbox: no domain literal, trailing dot, quoted local part or encoded word', () => {
    for (const bad of ['kb@[127.0.0.1]', 'v@victim.test.', '"a b"@victim.test', '=?utf-8?q?v@victim.test?=', 'a..b@victim.test', 'v@-victim.test']) expect(isPlainMailbox(bad), bad).toBe(false);
    for (const good of ['v@victim.test', "o'brien+tag@mail.victim.test", 'a.b-c@x-y.example']) expect(isPlainMailbox(good), good).toBe(true);
  });

  it('stops at the hourly cap, whoever the recipients', () => {
    const plan = (count: number) => planRejectNotice({ policy, sender: 'sam@elsewhere.test', subject: 'Hi', table: 'contracts', lastNoticeAt: never, noticesInLastHour: () => count });
    expect(plan(noticesPerHour - 1)).toMatchObject({ send: true });
    expect(plan(noticesPerHour)).toMatchObject({ send: false, why: expect.stringContaining(`${noticesPerHour} notices went out in the last hour`) });
  });

  it('goes only to a valid sender of a non-automatic message', () => {
    const plan = (extra: { senderInvalid?: string; automatic?: boolean }, sender: string | null = 'sam@elsewhere.test') => planRejectNotice({ policy, sender, subject: 'Hi', table: 'contracts', lastNoticeAt: never, ...extra });
    expect(plan({ senderInvalid: 'the sender is invalid: From "trial user@example.test": white space inside the address' }, null))
      .toEqual({ send: false, why: 'no notice: the sender is invalid: From "trial user@example.test": white space inside the address' });
    expect(plan({ automatic: true })).toEqual({ send: false, why: 'no notice: the message is automatic mail' });
    expect(plan({ automatic: false })).toMatchObject({ send: true, to: 'sam@elsewhere.test' });
  });
});
