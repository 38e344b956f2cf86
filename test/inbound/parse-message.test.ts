import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../src/inbound/parse-message.js';
import { Base64SizeCounter } from '../../src/mime/base64-size.js';

const parse = (raw: string) => parseMessage(Readable.from([Buffer.from(raw)]), { maxTextChars: 1_000_000 });
const wrapped = (bytes: Buffer) => bytes.toString('base64').replace(/.{76}/g, '$&\r\n');

function withParts(parts: string[]): string {
  return ['From: Sam <sam@elsewhere.test>', 'To: contracts@acme.test', 'Subject: parts', 'Message-ID: <p1@elsewhere.test>', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b0"', '',
    '--b0', 'Content-Type: text/plain; charset=utf-8', '', 'the text', ...parts.flatMap((p) => ['--b0', p]), '--b0--', ''].join('\r\n');
}

describe('parseMessage', () => {
  it('counts each base64 attachment at its decoded size without decoding it (no padding, "=", "==")', async () => {
    const blobs = [randomBytes(3 * 1000), randomBytes(3 * 1000 + 2), randomBytes(3 * 1000 + 1), randomBytes(0), randomBytes(57)];
    const raw = withParts(blobs.map((b, i) => `Content-Type: application/pdf; name="f${i}.pdf"\r\nContent-Disposition: attachment; filename="f${i}.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n${wrapped(b)}`));
    const parsed = await parse(raw);
    expect(parsed.text).toBe('the text');
    expect(parsed.attachments).toEqual(blobs.map((b, i) => ({ filename: `f${i}.pdf`, contentType: 'application/pdf', size: b.length })));
  });

  it('keeps the text of a returned message (base64 or not) in embedded, at its decoded size', async () => {
    const returned = 'Message-ID: <ours@acme.test>\r\nSubject: hi\r\n\r\nbody\r\n';
    const parsed = await parse(withParts([
      `Content-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: base64\r\n\r\n${wrapped(Buffer.from(returned))}`,
      'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nab=3Dc',
    ]));
    expect(parsed.embedded).toBe(returned);
    expect(parsed.attachments).toEqual([
      { filename: null, contentType: 'text/rfc822-headers', size: Buffer.byteLength(returned) },
      { filename: null, contentType: 'application/octet-stream', size: 4 },
    ]);
  });

  it('counts broken base64 without failing', async () => {
    const parsed = await parse(withParts(['Content-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!QUJD=RE*\u00ff\r\n====']));
    expect(parsed.attachments).toHaveLength(1);
    expect(parsed.attachments[0]!.size).toBeGreaterThanOrEqual(0);
  });

  it('Base64SizeCounter: floor(n × 3 / 4) over the alphabet characters, across chunk boundaries', () => {
    const counter = new Base64SizeCounter();
    const text = Buffer.from(wrapped(randomBytes(1000)));
    for (let i = 0; i < text.length; i += 7) counter.count(text.subarray(i, i + 7));
    expect(counter.decodedSize).toBe(1000);
  });
});
