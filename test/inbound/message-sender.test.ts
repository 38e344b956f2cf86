import { describe, expect, it } from 'vitest';
import { resolveSender, senderLabel, senderProblem } from '../../src/inbound/message-sender.js';
import { decodeHeaderValue, parseHeaderBlock } from '../../src/mime/header-block.js';

const senderOf = (...lines: string[]) => resolveSender(parseHeaderBlock(`${lines.join('\r\n')}\r\nSubject: x\r\n\r\n`), decodeHeaderValue);

describe('the sender of a message: From, else Sender, else Reply-To, else Return-Path', () => {
  it('takes the first header that names a mailbox, and says which', () => {
    expect(senderOf('From: Ann <ann@example.test>', 'Sender: pat@acme.test', 'Reply-To: kai@example.test')).toEqual({ address: 'ann@example.test', name: 'Ann', header: 'From', repairs: [], invalid: null, text: null });
    expect(senderOf('Sender: Pat Lee <pat@acme.test>', 'Reply-To: kai@example.test')).toMatchObject({ address: 'pat@acme.test', name: 'Pat Lee', header: 'Sender' });
    expect(senderOf('Reply-To: <kai@example.test>', 'Return-Path: <bounce@lists.test>')).toMatchObject({ address: 'kai@example.test', header: 'Reply-To' });
    expect(senderOf('Return-Path: <ola@partner.test>')).toMatchObject({ address: 'ola@partner.test', header: 'Return-Path' });
    expect(senderOf('To: x@acme.test')).toEqual({ address: null, name: null, header: null, repairs: [], invalid: null, text: null });
  });

  it('passes over a header that names no mailbox: From: <>, a name alone, an empty group, an empty value', () => {
    expect(senderOf('From: <>', 'Reply-To: kai@example.test')).toMatchObject({ address: 'kai@example.test', header: 'Reply-To' });
    expect(senderOf('From: Kai Lo', 'Sender: kai@example.test')).toMatchObject({ address: 'kai@example.test', header: 'Sender' });
    expect(senderOf('From: undisclosed-recipients:;', 'Reply-To: kai@example.test')).toMatchObject({ header: 'Reply-To' });
    expect(senderOf('From:', 'Return-Path: <>')).toMatchObject({ address: null, header: null });
  });

  it('a header that names a mailbox wrongly makes the sender invalid: no fallback, no guess', () => {
    const s = senderOf('From: "Dan Trial" <dan van trial@example.test>', 'Reply-To: dan@example.test');
    expect(s).toMatchObject({ address: null, header: 'From', invalid: 'white space inside the address (not around "@" or ".")', text: '""Dan Trial" <dan van trial@example.test>"' });
    expect(senderProblem(s)).toBe('the sender is invalid: From ""Dan Trial" <dan van trial@example.test>": white space inside the address (not around "@" or ".")');
    expect(senderLabel(s)).toContain('(invalid From: white space');
    expect(senderOf('From: trial user@example.test')).toMatchObject({ address: null, header: 'From' });
    expect(senderOf('Reply-To: a@b@c.test', 'Return-Path: <ok@partner.test>')).toMatchObject({ address: null, header: 'Reply-To', invalid: 'an address with two "@"' });
  });

  it('two From headers: one sender when they agree, invalid when they differ', () => {
    expect(senderOf('From: Ann <ann@example.test>', 'From: ANN@example.test')).toMatchObject({ address: 'ann@example.test', name: 'Ann', header: 'From' });
    expect(senderOf('From: ann@example.test', 'From: mallory@evil.test', 'Sender: ann@example.test')).toMatchObject({ address: null, header: 'From', invalid: '2 From headers that name different mailboxes' });
  });

  it('reads a From of 150,000 mailboxes without overflowing the stack, keeping only the first few', () => {
    expect(senderOf(`From: ${'a@b.c,'.repeat(150_000)}`)).toMatchObject({ address: 'a@b.c', header: 'From' });
    const many = Array.from({ length: 50_000 }, (_, i) => `u${i}@b.c`).join(',');
    expect(senderOf(`From: ${many}`)).toMatchObject({ address: null, header: 'From', invalid: 'more than 10 mailboxes, and no Sender header to say which one sent it' });
    expect(senderOf(`From: ${'a@b.c,'.repeat(50_000)} z@b.c`)).toMatchObject({ address: null, invalid: '2 mailboxes, and no Sender header to say which one sent it' });
  });

  it('repairs a whole name-addr in quotes when it names one address and nothing else is outside', () => {
    expect(senderOf('From: "Ann Example <ann@example.test>"')).toMatchObject({ address: 'ann@example.test', name: 'Ann Example', header: 'From', repairs: ['the quotes around the name and address removed'] });
    for (const from of ['"Ann <ann@example.test> <kim@x.test>"', '"ann@example.test <kim@x.test>"', '"Ann <ann@example.test> x"', '"Dan <dan van trial@x.test>"', '"Ann <a@b@x.test>"']) {
      expect(senderOf(`From: ${from}`), from).toMatchObject({ address: null, header: 'From' });
    }
  });

  it('a From with several mailboxes takes the Sender (RFC 5322 §3.6.2), else is invalid', () => {
    expect(senderOf('From: ann@example.test, kim@partner.test', 'Sender: Kim <kim@partner.test>')).toMatchObject({ address: 'kim@partner.test', header: 'Sender' });
    expect(senderOf('From: ann@example.test, kim@partner.test')).toMatchObject({ address: null, header: 'From', invalid: '2 mailboxes, and no Sender header to say which one sent it' });
    expect(senderOf('Reply-To: ann@example.test, kim@partner.test')).toMatchObject({ address: null, header: 'Reply-To', invalid: '2 mailboxes' });
  });

  it('Return-Path: the first one (the final delivery\'s), and repairs are kept', () => {
    expect(senderOf('Return-Path: <ola@partner.test>', 'Return-Path: <relay@partner.test>')).toMatchObject({ address: 'ola@partner.test', header: 'Return-Path' });
    expect(senderOf('From: Ann <ann @ example.test.>')).toMatchObject({ address: 'ann@example.test', repairs: ['white space around "@" or "." removed', 'the trailing dot after the domain removed'] });
  });

  it('decodes encoded display names and reads UTF-8 addresses (RFC 6532)', () => {
    expect(senderOf('From: =?ISO-8859-1?Q?J=FCrgen?= <j@partner.test>')).toMatchObject({ address: 'j@partner.test', name: 'Jürgen' });
    const raw = Buffer.from('From: Jürgen <jürgen@müller.test>', 'utf8').toString('latin1');
    expect(senderOf(raw)).toMatchObject({ address: 'jürgen@müller.test', name: 'Jürgen' });
  });

  it('quotes at most 200 characters of a huge refused header, on one line', () => {
    const s = senderOf(`From: ${'word '.repeat(100_000)}x@example.test`);
    expect(s.address).toBeNull();
    expect(s.text!.length).toBeLessThanOrEqual(202);
  });
});
