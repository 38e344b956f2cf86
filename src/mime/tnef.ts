import iconv from 'iconv-lite';
import libmime from 'libmime';
import { decompressRtf } from './compressed-rtf.js';

/** A file inside winmail.dat: its bytes are a view into the TNEF stream (nothing copied). */
export interface TnefAttachment {
  filename: string | null;
  contentType: string;
  contentId: string | null;
  data: Buffer;
}

/** What a TNEF stream (application/ms-tnef, winmail.dat) carries. */
export interface TnefContent {
  /** The plain body (PR_BODY, else attBody), or null. */
  text: string | null;
  /** The HTML body (PR_BODY_HTML / PR_HTML), or null. */
  html: string | null;
  /** The RTF body, decompressed (PR_RTF_COMPRESSED), or null. */
  rtf: Buffer | null;
  attachments: TnefAttachment[];
}

/** The most attachments read from one TNEF stream. */
const maxAttachments = 500;
/** The most bytes one RTF body decompresses to. */
const maxRtfBytes = 16 * 1024 * 1024;

/**
 * Reads a TNEF stream as [MS-OXTNEF] 2.1.3 describes it: a signature (0x223E9F78) and a legacy
 * key, then attributes, each a level (1 message, 2 attachment), an id (type << 16 | name), a
 * length, that many bytes and a checksum. The message's bodies come from attBody and from the
 * MAPI properties of attMsgProps (PR_BODY, PR_BODY_HTML, PR_RTF_COMPRESSED); each attachment
 * starts at attAttachRendData and takes its bytes from attAttachData (else PR_ATTACH_DATA_BIN)
 * and its name and type from attAttachTitle and attAttachment's properties.
 *
 * Hostile input is bounded: every length is checked against the bytes that are really there
 * before anything is read (an attribute that claims 4 GB ends the reading, nothing is
 * allocated for it), values are views into `data`, the RTF body decompresses to at most
 * 16 MB, at most 500 attachments are read. Null when `data` is not TNEF.
 */
export function readTnef(data: Buffer): TnefContent | null {
  if (data.length < 6 || data.readUInt32LE(0) !== 0x223e9f78) return null;
  let codepage = 'windows-1252';
  let attBody: Buffer | null = null;
  let props: MapiProps | null = null;
  const attachments: Array<{ title: Buffer | null; data: Buffer | null; props: MapiProps | null }> = [];
  const current = () => {
    if (attachments.length === 0) attachments.push({ title: null, data: null, props: null });
    return attachments[attachments.length - 1]!;
  };
  let pos = 6;
  while (pos + 9 <= data.length) {
    const level = data[pos]!;
    const name = data.readUInt16LE(pos + 1);
    const length = data.readUInt32LE(pos + 5);
    const start = pos + 9;
    if (length > data.length - start) break; // claims more than there is: the rest is not readable
    const value = data.subarray(start, start + length);
    pos = start + length + 2; // and the checksum
    if (level === 1) {
      if (name === 0x800c) attBody = value; // attBody
      else if (name === 0x9007 && value.length >= 4) codepage = codepageName(value.readUInt32LE(0)) ?? codepage; // attOemCodepage
      else if (name === 0x9003) props = readMapiProps(value); // attMsgProps
    } else if (level === 2) {
      if (name === 0x9002) { // attAttachRendData: a new attachment
        if (attachments.length >= maxAttachments) break;
        attachments.push({ title: null, data: null, props: null });
      } else if (name === 0x8010) current().title = value; // attAttachTitle
      else if (name === 0x800f) current().data = value; // attAttachData
      else if (name === 0x9005) current().props = readMapiProps(value); // attAttachment
    }
  }

  const cpid = props?.get(0x3fde); // PR_INTERNET_CPID: the bodies' code page
  const bodyCodepage = (cpid && cpid.length >= 4 ? codepageName(cpid.readUInt32LE(0)) : null) ?? codepage;
  const text = mapiString(props, 0x1000, bodyCodepage) ?? (attBody ? cString(attBody, codepage) : null);
  const html = mapiString(props, 0x1013, bodyCodepage);
  const compressed = props?.get(0x1009);
  const rtf = compressed ? decompressRtf(compressed, maxRtfBytes) : null;

  const files: TnefAttachment[] = [];
  for (const attachment of attachments) {
    const p = attachment.props;
    let bytes = attachment.data;
    let objectData = false;
    if (!bytes && p?.get(0x3701)) {
      bytes = p.get(0x3701)!;
      // PR_ATTACH_DATA_OBJ: an embedded message, after the 16-byte interface id.
      if (p.types.get(0x3701) === 0x000d) {
        bytes = bytes.subarray(16);
        objectData = true;
      }
    }
    if (!bytes) continue;
    const filename = mapiString(p, 0x3707, codepage) ?? mapiString(p, 0x3704, codepage) ?? (attachment.title ? cString(attachment.title, codepage) : null) ?? mapiString(p, 0x3001, codepage);
    const mimeTag = mapiString(p, 0x370e, codepage)?.trim().toLowerCase();
    const contentType = mimeTag && /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(mimeTag) ? mimeTag
      : objectData ? 'application/ms-tnef'
        : filename ? libmime.detectMimeType(filename) || 'application/octet-stream' : 'application/octet-stream';
    files.push({ filename: filename?.trim() || null, contentType, contentId: mapiString(p, 0x3712, codepage)?.trim() || null, data: bytes });
  }
  return { text, html, rtf, attachments: files };
}

/** MAPI properties by id (their first value), with each one's type. */
type MapiProps = Map<number, Buffer> & { types: Map<number, number> };

/** Fixed-size MAPI property types and their sizes ([MS-OXCDATA] 2.11.1). */
const fixedSize: Record<number, number> = { 0x0001: 0, 0x0002: 2, 0x0003: 4, 0x0004: 4, 0x0005: 8, 0x0006: 8, 0x0007: 8, 0x000a: 4, 0x000b: 2, 0x0014: 8, 0x0040: 8, 0x0048: 16 };
/** Variable-size types: string8, Unicode string, binary, object. */
const variableTypes = new Set([0x001e, 0x001f, 0x0102, 0x000d]);
const pad4 = (n: number) => (n + 3) & ~3;

/**
 * A MAPI property list ([MS-OXTNEF] 2.1.3.4): a count, then each property's type, id (a named
 * one with its GUID and name), and value(s), every value padded to 4 bytes. Reading stops at
 * the first property that does not fit in what is there, or of a type whose size is unknown.
 */
function readMapiProps(buf: Buffer): MapiProps {
  const props = Object.assign(new Map<number, Buffer>(), { types: new Map<number, number>() });
  if (buf.length < 4) return props;
  const count = buf.readUInt32LE(0);
  let pos = 4;
  for (let n = 0; n < count && pos + 4 <= buf.length; n++) {
    const type = buf.readUInt16LE(pos);
    const id = buf.readUInt16LE(pos + 2);
    pos += 4;
    if (id >= 0x8000) { // named: GUID, kind, then an id or a name
      if (pos + 20 > buf.length) break;
      const kind = buf.readUInt32LE(pos + 16);
      pos += 20;
      if (kind === 0) pos += 4;
      else {
        if (pos + 4 > buf.length) break;
        const nameLength = buf.readUInt32LE(pos);
        if (nameLength > buf.length - pos - 4) break;
        pos += 4 + pad4(nameLength);
      }
    }
    const base = type & 0x0fff;
    const multi = (type & 0x1000) !== 0;
    const variable = variableTypes.has(base);
    if (!variable && fixedSize[base] === undefined) break;
    let values = 1;
    if (variable || multi) {
      if (pos + 4 > buf.length) break;
      values = buf.readUInt32LE(pos);
      pos += 4;
      if (values > (buf.length - pos) / 4) break;
    }
    let first: Buffer | null = null;
    for (let v = 0; v < values; v++) {
      let size: number;
      if (variable) {
        if (pos + 4 > buf.length) return props;
        size = buf.readUInt32LE(pos);
        pos += 4;
      } else {
        size = fixedSize[base]!;
      }
      if (size > buf.length - pos) return props;
      first ??= buf.subarray(pos, pos + size);
      pos += pad4(size === 0 ? 4 : size);
    }
    if (first && !props.has(id)) {
      props.set(id, first);
      props.types.set(id, base);
    }
  }
  return props;
}

/** A string property: UTF-16LE when of type PT_UNICODE, else 8-bit in `codepage`; binary (PR_HTML) read in `codepage` too. */
function mapiString(props: MapiProps | null, id: number, codepage: string): string | null {
  const value = props?.get(id);
  if (!value) return null;
  const text = props!.types.get(id) === 0x001f ? value.toString('utf16le') : iconv.decode(value, codepage);
  return text.replace(/\0+$/, '');
}

/** An 8-bit string, up to its first NUL. */
function cString(value: Buffer, codepage: string): string {
  const end = value.indexOf(0);
  return iconv.decode(end >= 0 ? value.subarray(0, end) : value, codepage);
}

/** A Windows code page number as iconv-lite names it (65001: UTF-8), or null when unknown. */
function codepageName(cp: number): string | null {
  if (cp === 65001) return 'utf-8';
  if (cp === 20127 || cp === 28591) return 'windows-1252';
  const name = `cp${cp}`;
  return iconv.encodingExists(name) ? name : null;
}
