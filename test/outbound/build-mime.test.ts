import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { buildMime, encodeWords, formatAddress } from '../../src/mime/build-mime.js';

describe('buildMime: our one-pass MIME builder, read back by mailparser', () => {
  const date = new Date('2026-11-27T10:00:00Z');

  it('a plain ASCII message is 7bit with CRLF line ends and every header', async () => {
    const raw = buildMime({ from: 'records@acme.test', to: ['pat@acme.test', 'Lee Park <lee@partner.test>'], subject: 'Renewal due [ref:abc]', date, messageId: 'mc.x@records.acme.test', text: 'Hello\n.\nBye', headers: { 'X-Mailctl-Ref': 'v1.k1.AAAA' } });
    const text = raw.toString('utf8');
    expect(text).toMatch(/^From: records@acme\.test\r\nTo: pat@acme\.test, Lee Park <lee@partner\.test>\r\nSubject: Renewal due \[ref:abc\]\r\nDate: Fri, 27 Nov 2026 10:00:00 \+0000\r\nMessage-ID: <mc\.x@records\.acme\.test>\r\nX-Mailctl-Ref: v1\.k1\.AAAA\r\nMIME-Version: 1\.0\r\nContent-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\nHello\r\n\.\r\nBye\r\n$/);
    expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    const parsed = await simpleParser(raw);
    expect(parsed.text).toBe('Hello\n.\nBye\n');
    expect(parsed.messageId).toBe('<mc.x@records.acme.test>');
  });

  it('Unicode names, subject and body, HTML, attachments with Unicode names: mailparser reads back exactly what went in', async () => {
    const pdf = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 256));
    const raw = buildMime({
      from: 'Zoë Ångström <records@acme.test>', to: ['"Park, Lee" <lee@partner.test>'], subject: 'Änderung: Vertrag für Müller & Söhne — 契約の更新 ✓ and a long tail to force folding of the words', date,
      messageId: 'mc.y@records.acme.test', text: 'Grüße\nZeile zwei 😀', html: '<p>Grüße</p>',
      attachments: [{ filename: 'Vertrag Müller.pdf', content: pdf }, { filename: 'notes.txt', content: Buffer.from('plain notes'), contentType: 'text/plain' }],
      headers: { 'X-Mailctl-Original-To': 'real@customer.test' },
    });
    expect(raw.toString('latin1')).not.toMatch(/[^\x00-\x7f]/); // 7-bit clean on the wire
    expect(raw.toString('latin1').split('\r\n').every((l) => l.length <= 998)).toBe(true);
    const parsed = await simpleParser(raw);
    expect(parsed.from?.value).toEqual([{ name: 'Zoë Ångström', address: 'records@acme.test' }]);
    expect((Array.isArray(parsed.to) ? parsed.to[0] : parsed.to)?.value).toEqual([{ name: 'Park, Lee', address: 'lee@partner.test' }]);
    expect(parsed.subject).toBe('Änderung: Vertrag für Müller & Söhne — 契約の更新 ✓ and a long tail to force folding of the words');
    expect(parsed.text).toBe('Grüße\nZeile zwei 😀');
    expect(parsed.html).toBe('<p>Grüße</p>');
    expect(parsed.headers.get('x-mailctl-original-to')).toBe('real@customer.test');
    expect(parsed.attachments.map((a) => [a.filename, a.contentType, a.content.length])).toEqual([['Vertrag Müller.pdf', 'application/pdf', 5000], ['notes.txt', 'text/plain', 11]]);
    expect(parsed.attachments[0]!.content.equals(pdf)).toBe(true);
    expect(parsed.date?.toISOString()).toBe(date.toISOString());
  });

  it('line breaks in header values cannot inject headers', async () => {
    const raw = buildMime({ from: 'records@acme.test', to: ['pat@acme.test'], subject: 'Hi\r\nBcc: victim@evil.test', date, messageId: 'mc.z@x', text: 'x', headers: { 'X-Note': 'a\nX-Evil: 1' } });
    const parsed = await simpleParser(raw);
    expect(parsed.headers.has('bcc')).toBe(false);
    expect(parsed.headers.has('x-evil')).toBe(false);
    expect(parsed.subject).toBe('Hi Bcc: victim@evil.test');
  });

  it('encoded-words stay under 76 characters; plain names are left alone, odd ones quoted', () => {
    for (const word of encodeWords('ü'.repeat(200)).split('\r\n ')) expect(word.length).toBeLessThanOrEqual(75);
    expect(formatAddress('Pat Lee <pat@acme.test>')).toBe('Pat Lee <pat@acme.test>');
    expect(formatAddress('Lee, Pat <pat@acme.test>')).toBe('"Lee, Pat" <pat@acme.test>');
    expect(formatAddress('pat@acme.test')).toBe('pat@acme.test');
  });
});
