import { describe, expect, it } from 'vitest';
import { mailboxesIn } from '../../src/inbound/mailbox-list.js';
import { decodeHeaderValue } from '../../src/mime/header-block.js';

const read = (value: string) => mailboxesIn(value, decodeHeaderValue);
const one = (value: string) => {
  const list = read(value);
  expect(list.invalid, value).toBeNull();
  expect(list.mailboxes, value).toHaveLength(1);
  return list.mailboxes[0]!;
};

describe('the mailbox reader (RFC 5322 §3.4)', () => {
  it('reads well-formed mailboxes without repairs: angle-addr, bare addr-spec, quoted names with stray brackets, comments, encoded words, groups', () => {
    expect(one('Ann Example <ann@example.test>')).toEqual({ address: 'ann@example.test', name: 'Ann Example', repairs: [] });
    expect(one('ANN@Example.TEST')).toEqual({ address: 'ann@example.test', name: null, repairs: [] });
    expect(one('"Lee, Ann >> Sales" <ann@example.test>')).toMatchObject({ address: 'ann@example.test', name: 'Lee, Ann >> Sales', repairs: [] });
    expect(one('"Ann <Sales>" <ann@example.test>')).toMatchObject({ address: 'ann@example.test', name: 'Ann <Sales>', repairs: [] });
    expect(one('"Ann \\"the boss\\" Lee" <ann@example.test>')).toMatchObject({ name: 'Ann "the boss" Lee' });
    expect(one('ann@example.test (Ann Example)')).toMatchObject({ address: 'ann@example.test', name: 'Ann Example' });
    expect(one('Ann (Sales (EMEA)) <ann@example.test>')).toMatchObject({ address: 'ann@example.test', name: 'Ann' });
    expect(one('=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@partner.test>')).toMatchObject({ address: 'juergen@partner.test', name: 'Jürgen Müller' });
    expect(one('Sales team: ann@example.test;')).toMatchObject({ address: 'ann@example.test' });
    expect(one('"dan van trial"@example.test')).toMatchObject({ address: '"dan van trial"@example.test', repairs: [] });
    expect(one('ann@[192.0.2.1]')).toMatchObject({ address: 'ann@[192.0.2.1]' });
    expect(read('Ann <ann@example.test>, "Lee, Bob" <bob@partner.test>, team: kim@x.test, lo@x.test;').mailboxes.map((m) => m.address))
      .toEqual(['ann@example.test', 'bob@partner.test', 'kim@x.test', 'lo@x.test']);
  });

  it('names no mailbox for the null sender, a display name alone or an empty group', () => {
    for (const value of ['<>', ' < > ', 'Ann Example', '"Ann Example"', 'undisclosed-recipients:;', '', '(just a comment)']) expect(read(value), value).toEqual({ mailboxes: [], invalid: null });
  });

  const repaired: Array<[string, string, string]> = [
    ['ann @ example.test', 'ann@example.test', 'white space around "@" or "." removed'],
    ['Ann <ann@ example.test>', 'ann@example.test', 'white space around "@" or "." removed'],
    ['ann.lee @example .test', 'ann.lee@example.test', 'white space around "@" or "." removed'],
    ['ann@example.test.', 'ann@example.test', 'the trailing dot after the domain removed'],
    ['Ann <ann@example.test.>', 'ann@example.test', 'the trailing dot after the domain removed'],
    ['Ann Example <ann@example.test', 'ann@example.test', 'the closing ">" added'],
    ['ann@example.test>', 'ann@example.test', 'a stray ">" dropped'],
    ['Ann <ann@example.test>>', 'ann@example.test', 'a stray ">" dropped'],
    ['<<ann@example.test>>', 'ann@example.test', 'a stray "<" dropped'],
    ['Ann <Sales <ann@example.test>', 'ann@example.test', 'a stray "<" dropped'],
    ['"Ann Example" ann@example.test', 'ann@example.test', 'angle brackets added around the address'],
    ['=?UTF-8?Q?Ann?= ann@example.test', 'ann@example.test', 'angle brackets added around the address'],
    ['<mailto:ann@example.test>', 'ann@example.test', '"mailto:" removed'],
    ['"ann@example.test"', 'ann@example.test', 'the quotes around the address removed'],
    ['"Ann Example <ann@example.test>', 'ann@example.test', 'an unclosed quote dropped'],
    ['Ann (Sales <ann@example.test>', 'ann@example.test', 'an unclosed comment dropped'],
  ];
  it.each(repaired)('repairs %j to %s (%s), saying so', (value, address, repair) => {
    const mailbox = one(value);
    expect(mailbox.address).toBe(address);
    expect(mailbox.repairs).toContain(repair);
  });

  const refused: Array<[string, string]> = [
    ['"Dan Trial" <dan van trial@example.test>', 'white space inside the address'],
    ['dan van trial@example.test', 'white space inside the address'],
    ['trial user@example.test', 'white space inside the address'],
    ['Ann ann@example.test', 'white space inside the address'],
    ['Ann <ann@ex ample.test>', 'white space inside the address'],
    ['"ann lee@example.test"', 'an address with white space, in quotes'],
    ['Ann <ann@example.test> <bob@partner.test>', 'two different addresses in one mailbox'],
    ['Ann <ann@example.test> bob@partner.test', 'an address after the angle-bracketed one'],
    ['<bob@partner.test <ann@example.test>', 'two addresses in one pair of angle brackets'],
    ['"Ann" <ann@@example.test>', 'an address with two "@"'],
    ['a@b@example.test', 'an address with two "@"'],
    ['<@example.test>', 'an address without a local part'],
    ['<ann@>', 'an address without a domain'],
    ['<ann@example..test>', 'characters an address cannot hold in its domain'],
    ['<ann[1]@example.test>', 'characters an address cannot hold in its local part'],
    ['<ann@exa$mple.test>', 'characters an address cannot hold in its domain'],
    [`<${'a'.repeat(250)}@example.test>`, 'an address longer than 254 characters'],
    ['=?UTF-8?Q?support=40bank.test?=', 'an address only inside an encoded word'],
    ['Ann (ann@example.test)', 'an "@" but no address that can be read without guessing'],
  ];
  it.each(refused)('refuses %j (%s) and takes no part of it for an address', (value, why) => {
    const list = read(value);
    expect(list.invalid).toContain(why);
    // Never a different, real-looking mailbox: nothing is read from the broken part.
    expect(list.mailboxes).toEqual([]);
  });

  it('reads the good mailboxes of a list beside a broken one (To and Cc), and says what was broken', () => {
    expect(read('ann@example.test, trial user@example.test, bob@partner.test')).toEqual({
      mailboxes: [{ address: 'ann@example.test', name: null, repairs: [] }, { address: 'bob@partner.test', name: null, repairs: [] }],
      invalid: 'white space inside the address (not around "@" or ".")',
    });
  });
});
