/**
 * Compressed RTF (PidTagRtfCompressed, the RTF body Outlook puts in winmail.dat), decompressed
 * as [MS-OXRTFCP] 2.1.3.1 describes: a 16-byte header (COMPSIZE, RAWSIZE, COMPTYPE "LZFu" or
 * "MELA", CRC), then control bytes whose bits, low bit first, say whether the next item is a
 * literal byte or a 2-byte reference (12-bit offset into a 4096-byte circular dictionary
 * primed with a fixed RTF prefix, 4-bit length + 2). A reference to the write position ends it.
 *
 * Bounded whatever the header claims: at most `maxBytes` come out (and never more than the
 * header's RAWSIZE), and reading stops where the input ends. Null when it is not compressed RTF.
 */
export function decompressRtf(input: Uint8Array, maxBytes: number): Buffer | null {
  if (input.length < 16) return null;
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const rawSize = view.getUint32(4, true);
  const compType = view.getUint32(8, true);
  const limit = Math.min(rawSize, maxBytes);
  if (compType === 0x414c454d) return Buffer.from(input.subarray(16, 16 + limit)); // "MELA": stored as is
  if (compType !== 0x75465a4c) return null; // not "LZFu"
  const end = Math.min(input.length, 4 + view.getUint32(0, true));
  const dictionary = Buffer.alloc(4096);
  dictionary.write(prefix, 'latin1');
  let write = prefix.length;
  const out = Buffer.allocUnsafe(Math.min(limit, Math.max(0, end - 16) * 8 + 16));
  let length = 0;
  let pos = 16;
  while (pos < end && length < out.length) {
    const control = input[pos++]!;
    for (let bit = 0; bit < 8 && pos < end && length < out.length; bit++) {
      if ((control & (1 << bit)) === 0) {
        const byte = input[pos++]!;
        out[length++] = byte;
        dictionary[write] = byte;
        write = (write + 1) & 4095;
        continue;
      }
      if (pos + 1 >= end) return out.subarray(0, length);
      const token = (input[pos]! << 8) | input[pos + 1]!;
      pos += 2;
      let offset = token >> 4;
      if (offset === write) return out.subarray(0, length);
      const count = (token & 15) + 2;
      for (let i = 0; i < count && length < out.length; i++) {
        const byte = dictionary[offset]!;
        out[length++] = byte;
        dictionary[write] = byte;
        write = (write + 1) & 4095;
        offset = (offset + 1) & 4095;
      }
    }
  }
  return out.subarray(0, length);
}

/** The dictionary's first 207 bytes ([MS-OXRTFCP] 3.1.3.1). */
const prefix = '{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx';
