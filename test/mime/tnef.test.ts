import { describe, expect, it } from 'vitest';
import { decompressRtf } from '../../src/mime/compressed-rtf.js';
import { rtfBody } from '../../src/mime/rtf-text.js';
import { readTnef } from '../../src/mime/tnef.js';

const attr = (level: number, name: number, type: number, data: Buffer) => {
  const head = Buffer.alloc(9);
  head.writeUInt8(level, 0);
  head.writeUInt16LE(name, 1);
  head.writeUInt16LE(type, 3);
  head.writeUInt32LE(data.length, 5);
  const sum = Buffer.alloc(2);
  sum.writeUInt16LE(data.reduce((a, b) => (a + b) & 0xffff, 0));
  return Buffer.concat([head, data, sum]);
};
const tnef = (...attrs: Buffer[]) => Buffer.concat([Buffer.from([0x78, 0x9f, 0x3e, 0x22, 0x01, 0x01]), ...attrs]);

/** LZFu with back-references ([MS-OXRTFCP] 2.1.3.1), greedy: the longest match in the 4096-byte window. */
function lzfu(raw: Buffer): Buffer {
  const prefix = Buffer.from('{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx', 'latin1');
  const dict = Buffer.alloc(4096);
  prefix.copy(dict);
  let write = prefix.length;
  const out: number[] = [];
  let i = 0;
  let ended = false;
  while (!ended) {
    const controlAt = out.length;
    out.push(0);
    for (let bit = 0; bit < 8; bit++) {
      if (i >= raw.length) {
        out[controlAt]! |= 1 << bit;
        out.push((write >> 4) & 0xff, (write & 15) << 4);
        ended = true;
        break;
      }
      let best = 0;
      let bestAt = 0;
      for (let at = 0; at < 4096; at++) {
        if (at === write) continue;
        let n = 0;
        while (n < 17 && i + n < raw.length && dict[(at + n) & 4095] === raw[i + n] && ((at + n) & 4095) !== write) n++;
        if (n > best) [best, bestAt] = [n, at];
      }
      if (best >= 2) {
        out[controlAt]! |= 1 << bit;
        out.push(bestAt >> 4, ((bestAt & 15) << 4) | (best - 2));
        for (let k = 0; k < best; k++) { dict[write] = raw[i + k]!; write = (write + 1) & 4095; }
        i += best;
      } else {
        out.push(raw[i]!);
        dict[write] = raw[i]!;
        write = (write + 1) & 4095;
        i++;
      }
    }
  }
  const head = Buffer.alloc(16);
  head.writeUInt32LE(out.length + 12, 0);
  head.writeUInt32LE(raw.length, 4);
  head.writeUInt32LE(0x75465a4c, 8);
  return Buffer.concat([head, Buffer.from(out)]);
}

describe('TNEF (winmail.dat)', () => {
  it('reads attBody, and each attachment with its title and data', () => {
    const content = readTnef(tnef(attr(1, 0x800c, 2, Buffer.from('Body text\r\n')), attr(2, 0x9002, 6, Buffer.alloc(14)), attr(2, 0x8010, 1, Buffer.from('a.pdf\0')), attr(2, 0x800f, 6, Buffer.from('%PDF'))))!;
    expect(content.text).toBe('Body text\r\n');
    expect(content.attachments).toEqual([{ filename: 'a.pdf', contentType: 'application/pdf', contentId: null, data: Buffer.from('%PDF') }]);
  });

  it('a hostile attribute claiming 4 GB ends the reading without allocating it; not TNEF is null', () => {
    const bad = Buffer.concat([tnef(attr(1, 0x800c, 2, Buffer.from('kept'))), Buffer.from([1, 0x0c, 0x80, 2, 0, 0xff, 0xff, 0xff, 0xff]), Buffer.from('short')]);
    expect(readTnef(bad)).toMatchObject({ text: 'kept', attachments: [] });
    expect(readTnef(Buffer.from('not a tnef stream'))).toBeNull();
    // A MAPI property list claiming 2^32 properties and 2^32 values: read as far as there are bytes.
    const props = Buffer.alloc(16);
    props.writeUInt32LE(0xffffffff, 0);
    props.writeUInt16LE(0x1e, 4);
    props.writeUInt16LE(0x1000, 6);
    props.writeUInt32LE(0xffffffff, 8);
    expect(readTnef(tnef(attr(1, 0x9003, 6, props)))).toMatchObject({ text: null, html: null, rtf: null });
  });

  it('compressed RTF with back-references decompresses, and a header claiming 4 GB gives no more than is there', () => {
    const rtf = Buffer.from('{\\rtf1\\ansi\\ansicpg1252\\pard hello world, hello world, hello world}\r\n', 'latin1');
    expect(decompressRtf(lzfu(rtf), 1 << 20)!.toString('latin1')).toBe(rtf.toString('latin1'));
    const lying = lzfu(rtf);
    lying.writeUInt32LE(0xffffffff, 0);
    lying.writeUInt32LE(0xffffffff, 4);
    expect(decompressRtf(lying, 1 << 20)!.length).toBeLessThan(200);
  });

  it('RTF: plain text with \\\'hh and \\u, tables skipped; \\fromhtml1 gives its HTML', () => {
    expect(rtfBody(Buffer.from("{\\rtf1\\ansi\\ansicpg1252{\\fonttbl{\\f0 Arial;}}{\\*\\generator x;}Gr\\'fc\\'dfe\\par \\uc1\\u8364?5}", 'latin1'))).toEqual({ kind: 'text', value: 'Grüße\n€5' });
    const html = rtfBody(Buffer.from('{\\rtf1\\ansi\\fromhtml1 {\\*\\htmltag64 <p>}\\htmlrtf {\\htmlrtf0 Hi & bye\\htmlrtf }\\htmlrtf0{\\*\\htmltag72 </p>}}', 'latin1'));
    expect(html).toEqual({ kind: 'html', value: '<p>Hi & bye</p>' });
  });

  it('hostile RTF is linear: 5 million nested groups, a 10 MB control word', () => {
    const started = Date.now();
    expect(rtfBody(Buffer.from(`${'{'.repeat(5_000_000)}x${'}'.repeat(5_000_000)}`)).value).toBe('x');
    rtfBody(Buffer.from(`\\${'a'.repeat(10_000_000)}`));
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
