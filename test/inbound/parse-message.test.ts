import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text as readAll } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { parseMessage, takeMessage } from '../../src/inbound/parse-message.js';
import { FsMessageStore } from '../../src/store/fs-message-store.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const parse = (raw: string) => parseMessage(Readable.from([Buffer.from(raw)]), { maxTextChars: 1_000_000 });
const wrapped = (bytes: Buffer) => bytes.toString('base64').replace(/.{76}/g, '$&\r\n');
const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

function withParts(parts: string[]): string {
  return ['From: Sam <sam@elsewhere.test>', 'To: contracts@acme.test', 'Subject: parts', 'Message-ID: <p1@elsewhere.test>', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b0"', '',
    '--b0', 'Content-Type: text/plain; charset=utf-8', '', 'the text', ...parts.flatMap((p) => ['--b0', p]), '--b0--', ''].join('\r\n');
}

async function bytesOf(store: FsMessageStore, hash: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.open(hash)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('takeMessage', () => {
  it('stores the raw bytes and each attachment (base64 of every padding) byte for byte, named by SHA-256', async () => {
    const store = new FsMessageStore(join(tempDir(), 'messages'));
    const blobs = [randomBytes(3 * 1000), randomBytes(3 * 1000 + 2), randomBytes(3 * 1000 + 1), randomBytes(0), randomBytes(57)];
    const raw = withParts(blobs.map((b, i) => `Content-Type: application/pdf; name="f${i}.pdf"\r\nContent-Disposition: attachment; filename="f${i}.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n${wrapped(b)}`));
    const batch = store.batch();
    // In 100-byte pieces: the header capture and the two consumers must agree across chunk edges.
    const pieces = Array.from({ length: Math.ceil(raw.length / 100) }, (_, i) => Buffer.from(raw).subarray(i * 100, i * 100 + 100));
    const taken = await takeMessage(Readable.from(pieces), batch, { maxTextChars: 1_000_000 });
    expect(await store.has(taken.raw.hash)).toBe(false); // not visible before the batch commits
    await batch.commit();
    expect(taken.raw).toMatchObject({ hash: sha256(raw), size: Buffer.byteLength(raw) });
    expect((await bytesOf(store, taken.raw.hash)).equals(Buffer.from(raw))).toBe(true);
    expect(taken.parsed!.text).toBe('the text');
    expect(taken.parsed!.attachments).toEqual(blobs.map((b, i) => ({ filename: `f${i}.pdf`, contentType: 'application/pdf', size: b.length, sha256: sha256(b), contentId: null, inline: false })));
    for (const b of blobs) expect((await bytesOf(store, sha256(b))).equals(b)).toBe(true);
    expect(taken.headerBlock).toBe(raw.slice(0, raw.indexOf('\r\n\r\n') + 4));
  });

  it('keeps an attached message/rfc822 whole, an inline image with its Content-ID, the HTML body and Cc', async () => {
    const store = new FsMessageStore(join(tempDir(), 'messages'));
    const inner = 'From: a@b.test\r\nSubject: inner\r\nMessage-ID: <inner@b.test>\r\n\r\ninner body\r\n';
    const png = randomBytes(500);
    const raw = ['From: Sam <sam@elsewhere.test>', 'To: contracts@acme.test', 'Cc: Ann <ann@acme.test>, bob@acme.test', 'Subject: nested', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="m"', '',
      '--m', 'Content-Type: multipart/related; boundary="r"', '',
      '--r', 'Content-Type: text/html; charset=utf-8', '', '<p>see <img src="cid:logo@x"></p>',
      '--r', 'Content-Type: image/png', 'Content-ID: <logo@x>', 'Content-Disposition: inline; filename="logo.png"', 'Content-Transfer-Encoding: base64', '', wrapped(png),
      '--r--', '--m', 'Content-Type: message/rfc822', 'Content-Disposition: inline', '', inner, '--m--', ''].join('\r\n');
    const batch = store.batch();
    const taken = await takeMessage(Readable.from([Buffer.from(raw)]), batch, { maxTextChars: 1_000_000 });
    await batch.commit();
    const parsed = taken.parsed!;
    expect(parsed.html).toContain('<img src="cid:logo@x">');
    expect(parsed.cc).toEqual(['ann@acme.test', 'bob@acme.test']);
    expect(parsed.attachments).toEqual([
      { filename: 'logo.png', contentType: 'image/png', size: 500, sha256: sha256(png), contentId: 'logo@x', inline: true },
      expect.objectContaining({ contentType: 'message/rfc822', inline: true }),
    ]);
    // The attached message comes back as it was sent (its trailing CRLF belongs to the boundary).
    expect((await bytesOf(store, parsed.attachments[1]!.sha256)).toString()).toBe(inner);
    expect(parsed.embedded).toContain('Message-ID: <inner@b.test>');
  });

  it('stores a message whose bytes do not parse, and says why', async () => {
    const store = new FsMessageStore(join(tempDir(), 'messages'));
    const raw = Buffer.concat([Buffer.from('Subject: broken\r\nContent-Type: multipart/mixed; boundary="x"\r\nContent-Transfer-Encoding: base64\r\n\r\n--x\r\n'), randomBytes(2000)]);
    const batch = store.batch();
    const taken = await takeMessage(Readable.from([raw]), batch, { maxTextChars: 1000 });
    await batch.commit();
    expect((await bytesOf(store, taken.raw.hash)).equals(raw)).toBe(true);
    expect(taken.headerBlock).toContain('Subject: broken');
  });

  it('a failing source stream is a SourceStreamError and leaves nothing in the store', async () => {
    const store = new FsMessageStore(join(tempDir(), 'messages'));
    async function* failing() {
      yield Buffer.from('Subject: x\r\n\r\nbody');
      throw new Error('connection reset');
    }
    const batch = store.batch();
    await expect(takeMessage(Readable.from(failing()), batch, { maxTextChars: 1000 })).rejects.toMatchObject({ name: 'SourceStreamError' });
    await batch.commit();
    const stored: string[] = [];
    for await (const entry of store.list()) stored.push(entry.hash);
    expect(stored).toEqual([]);
  });
});

describe('parseMessage', () => {
  it('keeps the text of a returned message (base64 or not) in embedded, at its decoded size', async () => {
    const returned = 'Message-ID: <ours@acme.test>\r\nSubject: hi\r\n\r\nbody\r\n';
    const parsed = await parse(withParts([
      `Content-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: base64\r\n\r\n${wrapped(Buffer.from(returned))}`,
      'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nab=3Dc',
    ]));
    expect(parsed.embedded).toBe(returned);
    expect(parsed.attachments).toEqual([
      expect.objectContaining({ filename: null, contentType: 'text/rfc822-headers', size: Buffer.byteLength(returned), sha256: sha256(returned) }),
      expect.objectContaining({ filename: null, contentType: 'application/octet-stream', size: 4, sha256: sha256('ab=c') }),
    ]);
  });

  it('makes text of HTML past a large data: URI image, keeps headings as written and table cells apart (issue 16)', async () => {
    const image = `<p><img alt="Screenshot" src="data:image/png;base64,${'QUJD'.repeat(60_000)}"></p><style>${'p{}'.repeat(80_000)}</style>`;
    const html = `<html><body>${image}<h2>Neue Anfrage</h2><table><tr><th>Name</th><td>Ann Example</td></tr></table><p>The export fails.</p></body></html>`;
    const parsed = await parse(`From: a@x.test\r\nSubject: s\r\nContent-Type: text/html; charset=utf-8\r\n\r\n${html}\r\n`);
    expect(parsed.text).toContain('The export fails.');
    expect(parsed.text).toContain('Neue Anfrage');
    expect(parsed.text).toMatch(/^Name +Ann Example$/m);
    expect(parsed.text).not.toContain('QUJD');
    expect(parsed.truncated).toBe(false);
  });

  it('reads unknown-8bit encoded words and bodies as undeclared 8-bit text (issue 16)', async () => {
    const raw = Buffer.concat([
      Buffer.from('From: =?unknown-8bit?Q?J=FCrgen?= <j@x.test>\r\nSubject: =?unknown-8bit?Q?Pr=FCfbericht_f=FCr_M=E4rz?=\r\nContent-Type: text/plain; charset=unknown-8bit\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'),
      Buffer.from('Der Pr\u00fcfbericht f\u00fcr M\u00e4rz ist fertig.\r\n', 'latin1'),
    ]);
    const parsed = await parseMessage(Readable.from([raw]), { maxTextChars: 1_000_000 });
    expect(parsed.subject).toBe('Prüfbericht für März');
    expect(parsed.fromName).toBe('Jürgen');
    expect(parsed.text.trim()).toBe('Der Prüfbericht für März ist fertig.');
  });

  it('takes broken base64 without failing', async () => {
    const parsed = await parse(withParts(['Content-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!QUJD=RE*\u00ff\r\n====']));
    expect(parsed.attachments).toHaveLength(1);
    expect(parsed.attachments[0]!.size).toBeGreaterThanOrEqual(0);
  });
});

describe('FsMessageStore', () => {
  it('refuses content that no longer matches its hash, and says a blob is missing', async () => {
    const dir = join(tempDir(), 'messages');
    const store = new FsMessageStore(dir);
    const batch = store.batch();
    const blob = await batch.put(Buffer.from('hello world'));
    await batch.commit();
    expect(await readAll(await store.open(blob.hash))).toBe('hello world');
    const { writeFileSync } = await import('node:fs');
    const { gzipSync } = await import('node:zlib');
    writeFileSync(join(dir, 'objects', blob.hash.slice(0, 2), `${blob.hash}.gz`), gzipSync('hello w0rld'));
    await expect(readAll(await store.open(blob.hash))).rejects.toMatchObject({ code: 'E_STORE_CORRUPT' });
    await expect(store.open('0'.repeat(64))).rejects.toMatchObject({ code: 'E_STORE_MISSING' });
  });
});

describe('messageFingerprint', () => {
  const base = (extra: string[]) => [
    ...extra, 'From: Lee <lee@partner.test>', 'To: contracts@acme.test', 'Subject: RE: MSA renewal', 'Date: Fri, 27 Nov 2026 10:00:00 +0000',
    'Message-ID: <reply-1@partner.test>', '', 'Agreed, please send the final draft.', ''].join('\r\n');
  const fingerprintOf = async (raw: string) => (await import('../../src/inbound/parse-message.js')).messageFingerprint(await parse(raw));

  it('a copy through another relay (other Received, Return-Path, Delivered-To) is the same message', async () => {
    const one = await fingerprintOf(base(['Received: from mx1.partner.test by mx.acme.test; Fri, 27 Nov 2026 10:00:01 +0000', 'Return-Path: <lee@partner.test>']));
    const other = await fingerprintOf(base(['Received: from mx2.partner.test by mx.acme.test; Fri, 27 Nov 2026 10:05:09 +0000', 'Delivered-To: contracts@acme.test']));
    expect(one).not.toBeNull();
    expect(other).toBe(one);
  });

  it('a forged first copy without the reference or the threading headers is not the same message as the real reply', async () => {
    const forged = await fingerprintOf(base([]));
    for (const header of ['X-Mailctl-Ref: v1.k1.AAAA', 'In-Reply-To: <mc.abc@records.acme.test>', 'References: <mc.abc@records.acme.test>', 'Auto-Submitted: auto-replied', 'Cc: ann@acme.test']) {
      expect(await fingerprintOf(base([header])), header).not.toBe(forged);
    }
  });
});

describe('parseMessage: the sender and the recipients', () => {
  it('reads the sender from Reply-To when there is no From, and never the last word of a broken address', async () => {
    const noFrom = await parse('Reply-To: Kai <kai@example.test>\r\nTo: support@acme.test\r\nSubject: x\r\n\r\nbody\r\n');
    expect(noFrom).toMatchObject({ from: 'kai@example.test', fromName: 'Kai', sender: { header: 'Reply-To', address: 'kai@example.test' } });
    const broken = await parse('From: "Dan Trial" <dan van trial@example.test>\r\nTo: support@acme.test, trial user@acme.test, "Lee, Bob" <bob@acme.test>\r\nSubject: x\r\n\r\nbody\r\n');
    expect(broken).toMatchObject({ from: null, fromName: null, sender: { header: 'From', address: null, invalid: expect.stringContaining('white space') } });
    expect(broken.to).toEqual(['support@acme.test', 'bob@acme.test']);
  });
});
