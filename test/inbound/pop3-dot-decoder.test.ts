import { describe, expect, it } from 'vitest';
import { DotDecoder } from '../../src/inbound/pop3-dot-decoder.js';

/** The reference: the reply split into lines, each unstuffed, up to the "." line (RFC 1939 §3). */
function decodeByLines(reply: Buffer): { message: Buffer; rest: Buffer } {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lf = reply.indexOf(0x0a, at);
    const line = reply.subarray(at, lf + 1);
    at = lf + 1;
    const bare = line.subarray(0, line.length - (line.length > 1 && line[line.length - 2] === 0x0d ? 2 : 1));
    if (bare.length === 1 && bare[0] === 0x2e) return { message: Buffer.concat(out), rest: reply.subarray(at) };
    out.push(line[0] === 0x2e ? line.subarray(1) : line);
  }
}

function decodeInPieces(reply: Buffer, cuts: number[]): { message: Buffer; rest: Buffer; ended: boolean } {
  const decoder = new DotDecoder();
  const out: Buffer[] = [];
  let from = 0;
  for (const to of [...cuts, reply.length]) {
    const piece = decoder.push(reply.subarray(from, to));
    out.push(...piece.data);
    if (piece.ended) return { message: Buffer.concat(out), rest: Buffer.concat([piece.rest, reply.subarray(to)]), ended: true };
    from = to;
  }
  return { message: Buffer.concat(out), rest: Buffer.alloc(0), ended: false };
}

describe('POP3 dot-unstuffing on a stream of pieces', () => {
  it('gives what a line-by-line reading gives, wherever the pieces are cut', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const alphabet = ['.', '.', '\r\n', '\n', '\r', 'a', 'b', ' ', '..', '.\r\n'];
    for (let round = 0; round < 2000; round++) {
      let body = '';
      for (let i = 0; i < 1 + Math.floor(random() * 40); i++) body += alphabet[Math.floor(random() * alphabet.length)];
      // A valid reply: every line ending in CRLF, lines starting with "." stuffed, then the end line.
      const lines = body.split(/\r?\n/).map((line) => (line.startsWith('.') ? `.${line}` : line));
      const reply = Buffer.from(`${lines.join('\r\n')}\r\n.\r\nNEXT`);
      const expected = decodeByLines(reply);
      const cuts = [...new Set(Array.from({ length: Math.floor(random() * 6) }, () => Math.floor(random() * reply.length)))].sort((a, b) => a - b);
      const got = decodeInPieces(reply, cuts);
      expect(got.ended, JSON.stringify({ reply: reply.toString(), cuts })).toBe(true);
      expect(got.message.toString('latin1'), JSON.stringify({ reply: reply.toString(), cuts })).toBe(expected.message.toString('latin1'));
      expect(got.rest.toString()).toBe('NEXT');
    }
  });

  it('passes a 3 MB line in the pieces it came in, and ends at a bare-LF end line', () => {
    const line = Buffer.alloc(3 * 1024 * 1024, 0x41);
    const decoder = new DotDecoder();
    const pieces = [Buffer.from('Subject: long\r\n\r\n'), line.subarray(0, 65536), line.subarray(65536), Buffer.from('\r\n.'), Buffer.from('\n')];
    const out: Buffer[] = [];
    let ended = false;
    for (const piece of pieces) {
      const r = decoder.push(piece);
      out.push(...r.data);
      ended ||= r.ended;
    }
    expect(ended).toBe(true);
    expect(Buffer.concat(out).length).toBe(17 + line.length + 2);
    expect(decoder.push(Buffer.from('x')).data.length).toBe(1);
  });
});
