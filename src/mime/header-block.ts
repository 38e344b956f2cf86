import libmime from 'libmime';
import { decodeUndeclared, isUnknownCharset, legacyCharsetFor, strictUtf8 } from './legacy-charset.js';

/** The header section of a raw email, unfolded, with names lower-cased. */
export interface HeaderBlock {
  /** Each header in order: name lower-cased, value unfolded (raw, not decoded). */
  fields: Array<{ name: string; value: string }>;
  get(name: string): string | undefined;
  getAll(name: string): string[];
}

/**
 * Reads the header section of a raw message (up to the first empty line). Tolerant of
 * LF-only line ends and of junk lines, which a hostile or broken message may carry.
 */
export function parseHeaderBlock(raw: Buffer | string): HeaderBlock {
  const text = typeof raw === 'string' ? raw : raw.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const head = end >= 0 ? text.slice(0, end) : text;
  const fields: Array<{ name: string; value: string }> = [];
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length > 0) {
      const last = fields[fields.length - 1]!;
      last.value = last.value === '' ? line.trim() : `${last.value} ${line.trim()}`; // unfold
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() });
  }
  return {
    fields,
    get: (name) => fields.find((f) => f.name === name.toLowerCase())?.value,
    getAll: (name) => fields.filter((f) => f.name === name.toLowerCase()).map((f) => f.value),
  };
}

/**
 * A header value with RFC 2047 encoded words decoded ("=?UTF-8?Q?...?=" → text). `value` is as
 * parseHeaderBlock gives it, one character per byte; raw 8-bit bytes in it (RFC 6532 allows
 * UTF-8, legacy mailers write Latin-1, GB2312, Shift_JIS…) are read strictly as UTF-8 when they
 * are valid UTF-8, else in `legacyCharset` (the message's, legacy-charset.ts: a charset it
 * declares elsewhere, else the detector's), else in the detector's charset for these bytes alone.
 * A value that holds characters past U+00FF is text already and is not read again.
 */
export function decodeHeaderValue(value: string, legacyCharset?: string): string {
  let text = value;
  // Only characters U+0000–U+00FF: each is a byte as received.
  if (/[\u0080-\u00ff]/.test(value) && !/[^\u0000-\u00ff]/.test(value)) text = decodeUndeclared(Buffer.from(value, 'latin1'), legacyCharset);
  if (text.includes('=?')) text = relabelUnknownWords(text, legacyCharset);
  try {
    return libmime.decodeWords(text);
  } catch {
    return text;
  }
}

/** An encoded word (RFC 2047 §2): charset (language after "*" dropped), encoding, text. */
const encodedWordRe = /=\?([^?*\s]{1,60})(?:\*[^?\s]*)?\?([bq])\?([^?\s]*)\?=/gi;

/** The bytes an encoded word's text stands for. */
function wordBytes(encoding: string, text: string): Buffer {
  if (encoding.toLowerCase() === 'b') return Buffer.from(text, 'base64');
  return Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
}

/**
 * The bytes of a header value's encoded words whose charset is unknown (`=?unknown-8bit?Q?…?=`)
 * and which are not UTF-8: samples for legacyCharsetFor, as raw 8-bit bytes are.
 */
export function unknownCharsetWordBytes(value: string): Buffer[] {
  if (!value.includes('=?')) return [];
  const out: Buffer[] = [];
  for (const m of value.matchAll(encodedWordRe)) {
    if (!isUnknownCharset(m[1])) continue;
    const bytes = wordBytes(m[2]!, m[3]!);
    if (strictUtf8(bytes) === null && out.length < 16) out.push(bytes);
  }
  return out;
}

/**
 * Encoded words of an unknown charset (`unknown-8bit`, `x-unknown`…) relabelled with the charset
 * undeclared 8-bit text is read in: UTF-8 when their bytes are valid UTF-8, else `legacyCharset`
 * (else the detector's for these bytes) — libmime would give U+FFFD for every 8-bit byte.
 */
function relabelUnknownWords(value: string, legacyCharset?: string): string {
  let chosen = legacyCharset;
  return value.replace(encodedWordRe, (word, charset: string, encoding: string, text: string) => {
    if (!isUnknownCharset(charset)) return word;
    const bytes = wordBytes(encoding, text);
    if (strictUtf8(bytes) !== null) return `=?UTF-8?${encoding}?${text}?=`;
    chosen ??= legacyCharsetFor(unknownCharsetWordBytes(value)); // once per value: one charset for all its words
    return `=?${chosen}?${encoding}?${text}?=`;
  });
}

/** The message ids in a Message-ID, In-Reply-To or References value, without angle brackets. */
export function messageIdsIn(value: string | undefined): string[] {
  if (!value) return [];
  return [...value.matchAll(/<([^<>\s]+)>/g)].map((m) => m[1]!);
}
