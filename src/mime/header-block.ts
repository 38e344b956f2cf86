import libmime from 'libmime';

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

/** A header value with RFC 2047 encoded words decoded ("=?UTF-8?Q?...?=" → text). */
export function decodeHeaderValue(value: string): string {
  try {
    return libmime.decodeWords(Buffer.from(value, 'latin1').toString('utf8'));
  } catch {
    return value;
  }
}

/** The message ids in a Message-ID, In-Reply-To or References value, without angle brackets. */
export function messageIdsIn(value: string | undefined): string[] {
  if (!value) return [];
  return [...value.matchAll(/<([^<>\s]+)>/g)].map((m) => m[1]!);
}
