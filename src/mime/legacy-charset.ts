import chardet from 'chardet';
import iconv from 'iconv-lite';

/**
 * Text in 8-bit bytes that says nothing of its charset: a Subject or display name written raw
 * (RFC 5322 allows only ASCII there; RFC 6532 allows UTF-8), a text part without a charset
 * parameter or one that claims US-ASCII. It is read, in this order (issue 16, item 4):
 *
 * 1. strictly as UTF-8: valid UTF-8 stays UTF-8 (RFC 6532, RFC 6657);
 * 2. in a charset the message declares elsewhere: another part's `charset` parameter, an HTML
 *    part's `<meta charset>` (what a mail client falls back to: the same writer wrote both);
 * 3. in the charset a detector finds (chardet: byte-frequency and multi-byte models for the
 *    ISO-8859, Windows, KOI8, GB18030, Big5, EUC and Shift_JIS families);
 * 4. as windows-1252, the last resort (WHATWG Encoding: what "no charset" meant on the web).
 *
 * A candidate is taken only when it reads every such text of the message cleanly: no U+FFFD
 * (bytes the charset does not define) and no C1 control (U+0080–U+009F: Latin-1's reading of
 * Windows curly quotes). ISO-8859-1 and US-ASCII are read as windows-1252, as WHATWG does.
 */

/** At most this many bytes are given to the detector: its models converge long before. */
const detectSample = 64 * 1024;

/** Labels that are no legacy charset: UTF-8 is step 1, the rest are not text a mailer writes 8-bit. */
const notLegacy = /^(utf-?8|utf-?7|utf-?16.*|utf-?32.*|ucs-?2|ucs-?4|x-mailctl-undeclared|binary|base64|hex|7bit|8bit)$/;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Labels that say "8-bit, charset unknown": `unknown-8bit` (RFC 1428, what sendmail and Mutt
 * write when they do not know), `x-unknown`, `unknown`, `8bit` (a transfer encoding given as a
 * charset). Text so labelled is undeclared 8-bit text and read as such.
 */
const unknownLabel = /^(x-?)?unknown(-?8-?bit)?$|^8-?bit$/;

/** True when a charset label says only that the text is 8-bit in an unknown charset. */
export function isUnknownCharset(label: string | null | undefined): boolean {
  return unknownLabel.test((label ?? '').trim().toLowerCase().replace(/^["']|["']$/g, ''));
}

/** The bytes as UTF-8, or null when they are not valid UTF-8. */
export function strictUtf8(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/** A charset label as iconv-lite reads it, or null when it names no legacy charset iconv-lite knows. */
export function legacyLabel(label: string | null | undefined): string | null {
  const name = (label ?? '').trim().toLowerCase().replace(/^["']|["']$/g, '');
  if (!name || name.length > 40 || notLegacy.test(name)) return null;
  if (/^(us-?ascii|ascii|iso[-_]?8859[-_]?1|latin-?1|l1|iso[-_]?ir[-_]?100|cp819|ibm819)$/.test(name)) return 'windows-1252';
  // GB2312 text is often written with the GBK/GB18030 extensions: the superset reads both.
  if (/^(gb[-_]?2312|gbk|euc-?cn|x-gbk|cp936)$/.test(name)) return 'gb18030';
  if (/^(shift[-_]?jis|sjis|x-sjis|ms[-_]?kanji|windows-31j|cp932)$/.test(name)) return 'cp932';
  if (/^(ks_c_5601-1987|euc-?kr|ks_c_5601|cp949)$/.test(name)) return 'cp949';
  return iconv.encodingExists(name) ? name : null;
}

/** Bytes read in `charset`, or null when they do not read cleanly (a U+FFFD or a C1 control). */
export function cleanDecode(bytes: Uint8Array, charset: string): string | null {
  let text: string;
  try {
    text = iconv.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), charset);
  } catch {
    return null;
  }
  return /[\uFFFD\u0080-\u009F]/.test(text) ? null : text;
}

/**
 * The charset to read a message's undeclared 8-bit text in (`samples`: each such text's bytes
 * that are not valid UTF-8), given the charsets it declares elsewhere: the first declared one
 * that reads every sample cleanly, else the detector's candidates in order of confidence, else
 * windows-1252.
 */
export function legacyCharsetFor(samples: readonly Uint8Array[], declared: Iterable<string> = []): string {
  const tried = new Set<string>();
  const reads = (charset: string | null) => {
    if (!charset || tried.has(charset)) return false;
    tried.add(charset);
    return samples.every((sample) => cleanDecode(sample, charset) !== null);
  };
  for (const label of declared) if (reads(legacyLabel(label))) return legacyLabel(label)!;
  if (samples.length > 0) {
    for (const guess of detect(samples)) if (reads(legacyLabel(guess))) return legacyLabel(guess)!;
  }
  return 'windows-1252';
}

/** The detector's candidates for these bytes, most likely first (at most detectSample bytes read). */
function detect(samples: readonly Uint8Array[]): string[] {
  const parts: Uint8Array[] = [];
  let length = 0;
  for (const sample of samples) {
    if (length >= detectSample) break;
    const part = sample.subarray(0, detectSample - length);
    parts.push(part);
    length += part.length;
  }
  try {
    return chardet.analyse(Buffer.concat(parts)).filter((match) => match.confidence > 0).map((match) => match.name);
  } catch {
    return [];
  }
}

/**
 * Undeclared 8-bit bytes as text: UTF-8 when they are valid UTF-8, else read in `charset`
 * (legacyCharsetFor's answer; when not given, the detector's for these bytes alone), where a
 * byte that still does not read is U+FFFD.
 */
export function decodeUndeclared(bytes: Uint8Array, charset?: string): string {
  const text = strictUtf8(bytes);
  if (text !== null) return text;
  const chosen = charset ?? legacyCharsetFor([bytes]);
  try {
    return iconv.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), chosen);
  } catch {
    return iconv.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'windows-1252');
  }
}
