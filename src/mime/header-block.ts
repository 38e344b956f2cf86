import libmime from 'libmime';
import { decodeUndeclared } from './legacy-charset.js';

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
  try {
    return libmime.decodeWords(text);
  } catch {
    return text;
  }
}

/** The message ids in a Message-ID, In-Reply-To or References value, without angle brackets. */
export function messageIdsIn(value: string | undefined): string[] {
  if (!value) return [];
  return [...value.matchAll(/<([^<>\s]+)>/g)].map((m) => m[1]!);
}
