/** One mailbox of an address header, as read. */
export interface Mailbox {
  /** The address, lower case (as mailctl compares addresses everywhere). */
  address: string;
  /** The display name (encoded words decoded), or null. */
  name: string | null;
  /** What was repaired to read it; empty when it was well formed. */
  repairs: string[];
}

/** The mailboxes an address header names, or why it names one wrongly. */
export interface MailboxList {
  mailboxes: Mailbox[];
  /** Set when a part of the header looks like an address but is none that can be read without guessing (the first such part; `mailboxes` holds the others). */
  invalid: string | null;
  /** With `distinct`: true when further addresses were named beyond those kept. */
  more?: boolean;
}

/** How much of a long list `mailboxesIn` keeps. */
export interface MailboxListLimit {
  /**
   * Keep at most this many mailboxes, one per address (the first named one of each address,
   * else its first); the rest is still read (an invalid part still counts) but not kept.
   */
  distinct: number;
}

/** An address longer than this is refused (RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its brackets). */
const addressMax = 254;

type Token =
  | { kind: 'word'; text: string; space: boolean }
  | { kind: 'quoted'; text: string; space: boolean }
  | { kind: 'angle'; text: string; closed: boolean }
  | { kind: 'comment'; text: string }
  /** A repair the tokenizer made (an unclosed quote or comment read as plain text). */
  | { kind: 'note'; text: string }
  | { kind: ',' | ':' | ';' | '>' };

/**
 * The mailboxes of an address header (RFC 5322 §3.4: mailbox-list, address-list, groups,
 * quoted strings, comments, angle addresses), read in one linear pass — a header can be 1 MB.
 *
 * Repaired, because what is meant is unambiguous (each is named in `repairs`):
 * - white space around "@" or "." (`ann @ example.test`; RFC 5322's obsolete syntax allows it);
 * - a trailing dot after the domain (`ann@example.test.`, the DNS root: the same host);
 * - angle brackets missing or unbalanced: `Ann <ann@x.test` (no ">"), `ann@x.test>`,
 *   `<<ann@x.test>>`, a stray `>` after the address, and a display name that is quoted or
 *   encoded followed by a bare address (`"Ann Lee" ann@x.test`);
 * - a `mailto:` before the address; an address that is only a quoted string (`"ann@x.test"`).
 *
 * Refused (the header names a mailbox wrongly; `invalid` says how): white space inside the
 * local part or domain other than around "@" or "." (`dan van trial@x.test` — the old reading
 * took its last word, a different mailbox), bare words before a bare address (`Ann ann@x.test`,
 * which has the same shape), two different addresses in one mailbox, no or two "@", an empty
 * local part or domain, characters an address cannot hold, an address only inside an encoded
 * word (RFC 2047 §5 forbids it), and more than 254 characters. Nothing is guessed.
 */
export function mailboxesIn(value: string, decodeName: (raw: string) => string, limit?: MailboxListLimit): MailboxList {
  const mailboxes: Mailbox[] = [];
  const kept = new Map<string, number>();
  let more = false;
  const keep = (mailbox: Mailbox) => {
    if (!limit) {
      mailboxes.push(mailbox);
      return;
    }
    const at = kept.get(mailbox.address);
    if (at !== undefined) {
      if (!mailboxes[at]!.name && mailbox.name) mailboxes[at] = mailbox;
    } else if (mailboxes.length < limit.distinct) {
      kept.set(mailbox.address, mailboxes.length);
      mailboxes.push(mailbox);
    } else {
      more = true;
    }
  };
  let current: Token[] = [];
  const flush = (): string | null => {
    const tokens = current;
    current = [];
    if (!tokens.length) return null;
    const read = readMailbox(tokens, decodeName);
    if ('why' in read) return read.why;
    if (read.mailbox) keep(read.mailbox);
    return null;
  };
  let invalid: string | null = null;
  for (const token of tokenize(value)) {
    if (token.kind === ',' || token.kind === ';') {
      const why = flush(); // always: `invalid ??= flush()` would skip it once one failed
      invalid ??= why;
    } else if (token.kind === ':') {
      // A group's name (RFC 5322 §3.4 group; RFC 6854 allows one in From): not a mailbox.
      current = [];
    } else {
      current.push(token);
    }
  }
  const last = flush();
  invalid ??= last;
  // Safety net: an "@" that no mailbox came from is never passed over as "no address".
  if (!invalid && !mailboxes.length && value.includes('@')) invalid = 'an "@" but no address that can be read without guessing';
  return limit ? { mailboxes, invalid, more } : { mailboxes, invalid };
}

/** The lexical tokens of a header value; unterminated quotes, comments and brackets end with the value. */
function* tokenize(value: string): Generator<Token> {
  let space = false;
  let unclosedComment = false;
  let unclosedQuote = false;
  let i = 0;
  const n = value.length;
  while (i < n) {
    const c = value[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      space = true;
      i++;
    } else if (c === '"' && unclosedQuote) {
      space = true; // after an unclosed quote, quotes are dropped (see below)
      i++;
    } else if (c === '"') {
      let text = '';
      let j = i + 1;
      while (j < n && value[j] !== '"') {
        if (value[j] === '\\' && j + 1 < n) j++;
        text += value[j];
        j++;
      }
      if (j >= n) {
        // Never closed: the quote is dropped and what follows read as it stands (a name's
        // missing closing quote swallowed its address). Later ones are dropped too: each would
        // scan to the end again.
        unclosedQuote = true;
        yield { kind: 'note', text: 'an unclosed quote dropped' };
        space = true;
        i++;
        continue;
      }
      i = j + 1;
      yield { kind: 'quoted', text, space };
      space = false;
    } else if (c === '(' && !unclosedComment) {
      let depth = 0;
      let text = '';
      const start = i;
      while (i < n) {
        const d = value[i]!;
        if (d === '\\' && i + 1 < n) {
          text += value[i + 1];
          i += 2;
          continue;
        }
        i++;
        if (d === '(') {
          if (depth++ === 0) continue;
        } else if (d === ')') {
          if (--depth === 0) break;
        }
        text += d;
      }
      if (depth > 0) {
        // Never closed: the parenthesis is dropped and what follows read as it stands. Later
        // ones are read as text too, so a value of 1 MB of "(" is read once, not once per "(".
        unclosedComment = true;
        i = start + 1;
        yield { kind: 'note', text: 'an unclosed comment dropped' };
        space = true;
        continue;
      }
      yield { kind: 'comment', text };
      space = true; // a comment separates words as white space does (RFC 5322 §3.2.2 CFWS)
    } else if (c === '<') {
      let text = '';
      let inQuote = false;
      let closed = false;
      i++;
      while (i < n) {
        const d = value[i]!;
        if (d === '\\' && inQuote && i + 1 < n) {
          text += d + value[i + 1];
          i += 2;
          continue;
        }
        i++;
        if (d === '"') inQuote = !inQuote;
        else if (d === '>' && !inQuote) {
          closed = true;
          break;
        }
        text += d;
      }
      yield { kind: 'angle', text, closed };
      space = false;
    } else if (c === ',' || c === ':' || c === ';' || c === '>') {
      yield { kind: c };
      space = c !== '>';
      i++;
    } else {
      const start = i;
      while (i < n && !' \t\r\n"<>,:;'.includes(value[i]!) && !(value[i] === '(' && !unclosedComment)) i++;
      yield { kind: 'word', text: value.slice(start, i), space };
      space = false;
    }
  }
}

const encodedWord = /^=\?[^?\s]+\?[bq]\?[^?\s]*\?=$/i;

/** One mailbox's tokens: its mailbox, nothing (a display name alone, `<>`), or why it is broken. */
function readMailbox(tokens: Token[], decodeName: (raw: string) => string): { mailbox: Mailbox | null } | { why: string } {
  const repairs: string[] = [];
  const angles = tokens.filter((t): t is Extract<Token, { kind: 'angle' }> => t.kind === 'angle');
  const words = tokens.filter((t): t is Extract<Token, { kind: 'word' | 'quoted' }> => t.kind === 'word' || t.kind === 'quoted');
  const comments = tokens.filter((t): t is Extract<Token, { kind: 'comment' }> => t.kind === 'comment');
  if (tokens.some((t) => t.kind === '>')) repairs.push('a stray ">" dropped');
  for (const t of tokens) if (t.kind === 'note') repairs.push(t.text);
  const nameOf = (parts: Array<{ text: string }>) => {
    const raw = parts.map((p) => p.text).join(' ').trim();
    const name = raw ? decodeName(raw).replace(/[\u0000-\u001f\u007f]+/g, ' ').trim() : '';
    return name || null;
  };
  const commentName = () => nameOf(comments);

  if (angles.length) {
    const first = angles[0]!;
    if (angles.some((a) => a.text.trim() !== first.text.trim())) return { why: 'two different addresses in one mailbox' };
    const firstAt = tokens.indexOf(first);
    if (tokens.slice(firstAt + 1).some((t) => (t.kind === 'word' || t.kind === 'quoted') && t.text.includes('@'))) return { why: 'an address after the angle-bracketed one' };
    if (!first.closed) repairs.push('the closing ">" added');
    let text = first.text;
    let stray = '';
    const inner = lastOpenBracket(text);
    if (inner >= 0) {
      // `<<ann@x.test>>`, or `Ann <Sales <ann@x.test>`: a stray "<" before the address.
      if (text.slice(0, inner).includes('@')) return { why: 'two addresses in one pair of angle brackets' };
      stray = text.slice(0, inner).replace(/^<+/, '').trim();
      text = text.slice(inner + 1);
      repairs.push('a stray "<" dropped');
    }
    if (text.trim() === '') return { mailbox: null }; // `<>`: the null sender names no mailbox
    const address = readAddress(spaced(text), repairs);
    if (typeof address !== 'string') return address;
    const before = tokens.slice(0, firstAt).filter((t): t is Extract<Token, { kind: 'word' | 'quoted' }> => t.kind === 'word' || t.kind === 'quoted');
    if (stray) before.push({ kind: 'word', text: stray, space: true });
    return { mailbox: { address, name: nameOf(before) ?? commentName(), repairs } };
  }

  if (!words.length) return { mailbox: null };
  if (words.length === 1 && words[0]!.kind === 'quoted' && words[0]!.text.includes('@')) {
    // `"Ann Lee <ann@x.test>"` alone: a whole name-addr in quotes (a form-mailer quoting what it
    // was given), taken when the quotes hold exactly one address, in angle brackets at the end,
    // after a name with no "@", "<", ">" or quote; nothing else is outside the quotes.
    const nameAddr = quotedNameAddr(words[0]!.text);
    if (nameAddr && tokens.every((t) => t === words[0] || t.kind === 'note')) {
      const address = readAddress(spaced(nameAddr.address), repairs);
      if (typeof address !== 'string') return address;
      repairs.push('the quotes around the name and address removed');
      return { mailbox: { address, name: nameOf(nameAddr.name ? [{ text: nameAddr.name }] : []), repairs } };
    }
    // `"ann@x.test"` alone: an address in quotes and nothing else.
    if (/\s/.test(words[0]!.text.trim())) return { why: 'an address with white space, in quotes' };
    repairs.push('the quotes around the address removed');
    const address = readAddress([{ text: words[0]!.text.trim(), space: false }], repairs);
    return typeof address === 'string' ? { mailbox: { address, name: commentName(), repairs } } : address;
  }
  if (!words.some((w) => w.text.includes('@'))) {
    // A display name alone names no mailbox.
    if (words.some((w) => w.kind === 'word' && encodedWord.test(w.text)) && decodeName(words.map((w) => w.text).join(' ')).includes('@')) return { why: 'an address only inside an encoded word' };
    return { mailbox: null };
  }
  // No angle brackets: the words are the address, if what separates them is only white space
  // around "@" or "." — else a display name in quotes or encoded words before one bare address.
  const whole = readAddress(words, repairs);
  if (typeof whole === 'string') return { mailbox: { address: whole, name: commentName(), repairs } };
  const last = words[words.length - 1]!;
  const phrase = words.slice(0, -1);
  if (last.kind === 'word' && last.space && phrase.length && phrase.every((w) => w.kind === 'quoted' || encodedWord.test(w.text))) {
    const bare: string[] = [];
    const address = readAddress([{ text: last.text, space: false }], bare);
    if (typeof address === 'string') return { mailbox: { address, name: nameOf(phrase), repairs: ['angle brackets added around the address', ...bare] } };
  }
  return whole;
}

/** A quoted string's text read as `name <address>`, when that is all it is and it names one address; else null. */
function quotedNameAddr(text: string): { name: string; address: string } | null {
  const t = text.trim();
  const open = t.indexOf('<');
  if (open < 0 || !t.endsWith('>') || t.indexOf('>') !== t.length - 1 || t.indexOf('<', open + 1) >= 0) return null;
  const name = t.slice(0, open).trim();
  const address = t.slice(open + 1, -1);
  if (/[@"<>]/.test(name) || address.indexOf('@') !== address.lastIndexOf('@')) return null;
  return { name, address };
}

/** The position of the last "<" outside quotes, or -1. */
function lastOpenBracket(text: string): number {
  let inQuote = false;
  let last = -1;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '"') inQuote = !inQuote;
    else if (text[i] === '<' && !inQuote) last = i;
  }
  return last;
}

/** The text inside angle brackets as words, split where it has white space. */
function spaced(text: string): Array<{ text: string; space: boolean }> {
  const out: Array<{ text: string; space: boolean }> = [];
  let space = false;
  let start = -1;
  let inQuote = false;
  for (let i = 0; i <= text.length; i++) {
    const c = text[i];
    if (c === '"') inQuote = !inQuote;
    const blank = c === undefined || (!inQuote && (c === ' ' || c === '\t' || c === '\r' || c === '\n'));
    if (blank) {
      if (start >= 0) {
        out.push({ text: text.slice(start, i), space });
        start = -1;
      }
      space = true;
    } else if (start < 0) {
      start = i;
    }
  }
  return out;
}

const localAtom = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\u0080-\uffff-]+$/;
const domainLabel = /^[A-Za-z0-9_\u0080-\uffff-]+$/;

/**
 * The address the words make, lower case, or why they make none. Words separated by white
 * space join only where the space touches "@" or "."; a quoted word is a quoted local part.
 */
function readAddress(words: ReadonlyArray<{ text: string; space?: boolean; kind?: string }>, repairs: string[]): string | { why: string } {
  let text = '';
  let spacedJoin = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const piece = w.kind === 'quoted' ? `"${w.text}"` : w.text;
    if (i > 0 && w.space) {
      const end = text[text.length - 1];
      if (!(end === '@' || end === '.' || piece[0] === '@' || piece[0] === '.')) return { why: 'white space inside the address (not around "@" or ".")' };
      spacedJoin = true;
    }
    text += piece;
    if (text.length > addressMax + 7) return { why: `an address longer than ${addressMax} characters` };
  }
  if (spacedJoin) repairs.push('white space around "@" or "." removed');
  if (/^mailto:/i.test(text)) {
    text = text.slice(7);
    repairs.push('"mailto:" removed');
  }
  if (text.length > addressMax) return { why: `an address longer than ${addressMax} characters` };
  const at = text.startsWith('"') ? text.indexOf('"@', 1) + 1 : text.indexOf('@');
  if (at <= 0) return { why: text.includes('@') ? 'an address without a local part' : 'an address without "@"' };
  const local = text.slice(0, at);
  let domain = text.slice(at + 1);
  if (domain.includes('@')) return { why: 'an address with two "@"' };
  if (local.startsWith('"') ? !/^"[^"\\\r\n]*"$/.test(local) : !localAtom.test(local)) return { why: 'characters an address cannot hold in its local part' };
  if (domain.endsWith('.') && !domain.endsWith('..')) {
    domain = domain.slice(0, -1);
    repairs.push('the trailing dot after the domain removed');
  }
  if (!domain) return { why: 'an address without a domain' };
  const literal = domain.startsWith('[') && domain.endsWith(']') && /^\[[\x21-\x5a\x5e-\x7e]+\]$/.test(domain);
  if (!literal && !domain.split('.').every((label) => domainLabel.test(label))) return { why: 'characters an address cannot hold in its domain' };
  return asUtf8(`${local}@${domain}`).toLowerCase();
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * An address read from header bytes taken as Latin-1, as the UTF-8 it is when its 8-bit bytes
 * are valid UTF-8 (RFC 6532 internationalized addresses); else as it stands.
 */
function asUtf8(address: string): string {
  if (!/[\u0080-\u00ff]/.test(address) || /[^\u0000-\u00ff]/.test(address)) return address;
  try {
    return utf8.decode(Buffer.from(address, 'latin1'));
  } catch {
    return address;
  }
}
