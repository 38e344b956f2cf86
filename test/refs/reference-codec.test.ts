import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openReference, openSubjectToken, sealReference, sealSubjectToken, tableHash, type Reference } from '../../src/refs/reference-codec.js';
import { findReference } from '../../src/refs/find-reference.js';
import { stampReference } from '../../src/refs/stamp-reference.js';
import libmime from 'libmime';
import { parseHeaderBlock } from '../../src/mime/header-block.js';

const k1 = randomBytes(32);
const k2 = randomBytes(32);
const ref: Reference = {
  kb: 'acme-prod',
  serverUrl: 'https://records.acme.test',
  table: 'contracts',
  recordId: 4711,
  origin: 'rule:renewal-reminder',
  sentAt: new Date('2026-11-27T10:00:00Z'),
};

function flipEachByte(token: string): string[] {
  const bytes = Buffer.from(token, 'base64url');
  const out: string[] = [];
  for (let i = 0; i < bytes.length; i++) {
    for (const mask of [0x01, 0x80, 0xff]) {
      const copy = Buffer.from(bytes);
      copy[i]! ^= mask;
      out.push(copy.toString('base64url'));
    }
  }
  return out;
}

describe('the reference codec', () => {
  it('round-trips the full reference', () => {
    const token = sealReference(ref, 'k1', k1);
    expect(openReference(token, new Map([['k1', k1]]))).toEqual({ ok: true, keyId: 'k1', value: ref });
    // Two seals of the same reference differ (fresh nonce), so Message-IDs stay unique.
    expect(sealReference(ref, 'k1', k1)).not.toBe(token);
  });

  it('rejects every flipped byte of the full reference', () => {
    const keys = new Map([['k1', k1], ['k2', k2]]);
    const token = sealReference(ref, 'k1', k1);
    const variants = flipEachByte(token);
    expect(variants.length).toBe(Buffer.from(token, 'base64url').length * 3);
    for (const variant of variants) expect(openReference(variant, keys).ok, variant).toBe(false);
  });

  it('rejects truncated, foreign and garbage tokens with a reason', () => {
    const token = sealReference(ref, 'k1', k1);
    const keys = new Map([['k1', k1]]);
    for (const cut of [1, 5, 16, token.length - 1]) expect(openReference(token.slice(0, cut), keys).ok).toBe(false);
    const foreign = sealReference(ref, 'k1', randomBytes(32));
    expect(openReference(foreign, keys)).toEqual({ ok: false, reason: expect.stringMatching(/does not authenticate/) });
    expect(openReference(sealReference(ref, 'k7', k1), keys)).toEqual({ ok: false, reason: expect.stringMatching(/key k7/) });
    expect(openReference('not a token!', keys).ok).toBe(false);
  });

  it('round-trips the subject token and rejects every flipped byte', () => {
    const token = sealSubjectToken(ref, 'k1', k1);
    expect(token).toMatch(/^[A-Za-z0-9_-]{34}$/);
    const keys = new Map([['k1', k1], ['k2', k2]]);
    expect(openSubjectToken(token, keys)).toEqual({ ok: true, keyId: 'k1', value: { tableHash: tableHash('contracts'), recordId: 4711, sentAt: ref.sentAt } });
    for (const variant of flipEachByte(token)) expect(openSubjectToken(variant, keys).ok, variant).toBe(false);
  });

  it('still decodes mail sealed with an older key after a rotation', () => {
    const old = stampReference(ref, 'Renewal', 'k1', k1);
    const fresh = stampReference(ref, 'Renewal', 'k2', k2);
    const afterRotation = new Map([['k1', k1], ['k2', k2]]);
    expect(openReference(old.header, afterRotation)).toMatchObject({ ok: true, keyId: 'k1' });
    expect(openReference(fresh.header, afterRotation)).toMatchObject({ ok: true, keyId: 'k2' });
    expect(openReference(fresh.header, new Map([['k1', k1]])).ok).toBe(false);
  });
});

describe('finding the reference in a reply', () => {
  const keys = new Map([['k1', k1]]);
  const stamp = stampReference(ref, 'Contract renewal', 'k1', k1);
  const token = stamp.subject.match(/\[ref:([^\]]+)\]/)![1]!;

  it('finds it in the subject after "RE: FW:" prefixes and line folding, with custom headers stripped', () => {
    const folded = `RE: FW: Contract renewal\r\n [ref:${token.slice(0, 17)}\r\n ${token.slice(17)}]`;
    const raw = `From: lee@partner.test\r\nSubject: ${folded}\r\nMessage-ID: <abc@partner.test>\r\n\r\nThanks!\r\n`;
    const search = findReference(parseHeaderBlock(raw), keys);
    expect(search.found).toMatchObject({ kind: 'subject', source: 'subject', reference: { recordId: 4711, tableHash: tableHash('contracts') } });
  });

  it('finds it in an encoded-word subject', () => {
    const subject = libmime.encodeWords(`AW: Vertragsverlängerung [ref:${token}]`, 'Q', 40);
    expect(subject).toContain('=?UTF-8?Q?');
    const search = findReference(parseHeaderBlock(`Subject: ${subject}\r\n\r\n`), keys);
    expect(search.found?.kind).toBe('subject');
  });

  it('prefers In-Reply-To/References (the full reference) when the header is gone', () => {
    const raw = `Subject: RE: something else\r\nIn-Reply-To: <${stamp.messageId}>\r\nReferences: <x@y.test>\r\n <${stamp.messageId}>\r\n\r\n`;
    const search = findReference(parseHeaderBlock(raw), keys);
    expect(search.found).toMatchObject({ kind: 'full', source: 'in-reply-to', reference: ref });
  });

  it('treats a forged or tampered token as no reference, and says why', () => {
    const forged = sealReference({ ...ref, recordId: 1 }, 'k1', randomBytes(32));
    const tampered = token.slice(0, 10) + (token[10] === 'A' ? 'B' : 'A') + token.slice(11);
    const raw = `X-Mailctl-Ref: ${forged}\r\nSubject: RE: [ref:${tampered}]\r\nIn-Reply-To: <mc.${forged}@records.acme.test>\r\n\r\n`;
    const search = findReference(parseHeaderBlock(raw), keys);
    expect(search.found).toBeUndefined();
    expect(search.rejected.map((r) => r.source)).toEqual(['header', 'in-reply-to', 'subject']);
  });
});
