import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { TextPartCap } from '../../src/mime/text-part-cap.js';

const options = { ignoreEmbedded: true };
const crlf = (lines: string[]) => lines.join('\r\n');
/** The message through a cap of `maxChars`, in pieces of `piece` bytes. */
async function capped(raw: string | Buffer, maxChars: number, piece = 1000): Promise<{ out: Buffer; cut: boolean }> {
  const bytes = Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'latin1');
  const cap = new TextPartCap(maxChars, options);
  const pieces = Array.from({ length: Math.ceil(bytes.length / piece) }, (_, i) => bytes.subarray(i * piece, (i + 1) * piece));
  const out = await buffer(Readable.from(pieces).pipe(cap));
  return { out, cut: cap.cut };
}
const lines = (n: number, word = 'text') => Array.from({ length: n }, (_, i) => `${word} line ${i} of the body`).join('\r\n');
const head = (contentType?: string) => crlf(['From: a@partner.test', 'To: b@acme.test', 'Subject: s', ...(contentType ? ['MIME-Version: 1.0', `Content-Type: ${contentType}`] : []), '', '']);

describe('TextPartCap (the text cut in front of mailparser)', () => {
  it('passes a message within the budget byte for byte, whatever its shape', async () => {
    const messages = [
      head() + lines(50),
      head('text/plain; charset=utf-8') + lines(50) + '\r\n',
      head('multipart/mixed; boundary="b"') + crlf(['preamble', '--b', 'Content-Type: text/plain', '', lines(10), '--b', 'Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable', '',
        '<p>caf=C3=A9</p>', '--b', 'Content-Type: application/pdf', 'Content-Disposition: attachment; filename="a.pdf"', 'Content-Transfer-Encoding: base64', '', 'JVBERi0xLjQK',
        '--b', 'Content-Type: message/rfc822', '', head('text/plain') + lines(5), '--b--', 'epilogue', '']),
    ];
    for (const raw of messages) {
      for (const piece of [1, 7, 1000]) {
        const { out, cut } = await capped(raw, 10_000, piece);
        expect(out.toString('latin1')).toBe(raw);
        expect(cut).toBe(false);
      }
    }
  });

  it('cuts a text part at a line end once its budget is spent, and passes what follows it whole', async () => {
    const file = lines(2000, 'file'); // an attached .txt: not text to mailparser, never cut
    const raw = head('multipart/mixed; boundary="b"') + crlf(['--b', 'Content-Type: text/plain', '', lines(2000), '--b', 'Content-Type: text/plain', 'Content-Disposition: attachment; filename="a.txt"', '', file,
      '--b', 'Content-Type: message/rfc822', '', head() + lines(2000, 'forwarded'), '--b--', '']);
    const { out, cut } = await capped(raw, 1000);
    expect(cut).toBe(true);
    const text = out.toString('latin1');
    // Raw text costs 4 bytes a character: 4,000 bytes of the part pass, to the last line end before that.
    const kept = /Content-Type: text\/plain\r\n\r\n([\s\S]*?)\r\n--b\r\n/.exec(text)![1]!;
    expect(kept.length).toBeLessThanOrEqual(4000);
    expect(kept.length).toBeGreaterThan(3900);
    expect(kept.endsWith('\n')).toBe(true);
    expect(text).toContain(`filename="a.txt"\r\n\r\n${file}\r\n--b`);
    expect(text).toContain(head() + lines(2000, 'forwarded'));
  });

  it('gives plain text and HTML one budget each per message, all their parts together', async () => {
    const parts = Array.from({ length: 40 }, (_, i) => crlf(['--b', `Content-Type: text/${i % 2 ? 'html' : 'plain'}`, '', lines(100, `part${i}`)]));
    const raw = head('multipart/mixed; boundary="b"') + parts.join('\r\n') + '\r\n--b--\r\n';
    const { out, cut } = await capped(raw, 5000);
    expect(cut).toBe(true);
    const bodies = out.toString('latin1').split(/\r\n--b(?:--)?\r\n/).slice(1, -1).map((p) => p.slice(p.indexOf('\r\n\r\n') + 4));
    const plain = bodies.filter((_, i) => i % 2 === 0).join('');
    const html = bodies.filter((_, i) => i % 2 === 1).join('');
    expect(plain.length).toBeLessThanOrEqual(20_000);
    expect(html.length).toBeLessThanOrEqual(20_000);
    expect(plain.length).toBeGreaterThan(19_000);
    expect(html.length).toBeGreaterThan(19_000);
    // Every part is still there (its headers and delimiters), the last ones empty.
    expect(bodies).toHaveLength(40);
    expect(bodies.at(-1)).toBe('');
  });

  it('gives encoded parts their due: base64 6 bytes a character, quoted-printable 10', async () => {
    const b64 = Buffer.from('x'.repeat(60_000)).toString('base64').replace(/.{76}/g, '$&\r\n');
    const qp = Array.from({ length: 2000 }, () => '=E6=97=A5=E6=9C=AC=E8=AA=9E=E6=97=A5=E6=9C=AC=E8=AA=9E=').join('\r\n');
    for (const [encoding, body, perChar] of [['base64', b64, 6], ['quoted-printable', qp, 10]] as const) {
      const { out, cut } = await capped(head('text/plain; charset=utf-8') .replace('\r\n\r\n', `\r\nContent-Transfer-Encoding: ${encoding}\r\n\r\n`) + body, 1000);
      expect(cut).toBe(true);
      const kept = out.toString('latin1').split('\r\n\r\n')[1]!;
      expect(kept.length).toBeLessThanOrEqual(1000 * perChar);
      expect(kept.length).toBeGreaterThan(1000 * perChar - 80);
    }
  });

  it('fails as mailparser fails: a header block over 1 MB is an error, not a hang', async () => {
    const raw = `Subject: ${'x'.repeat(1024 * 1024 + 10)}\r\n\r\nbody`;
    await expect(capped(raw, 1000, 64 * 1024)).rejects.toThrow(/header/i);
  });
});
