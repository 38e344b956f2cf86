import { createHash } from 'node:crypto';
import { openReference, openSubjectToken, sealReference, sealSubjectToken, type RefKeys } from '../../src/refs/reference-codec.js';
import { stampReference, subjectTag } from '../../src/refs/stamp-reference.js';

/**
 * A deterministic generator of malformed and hostile emails for the reliability suite
 * (issue #8, point 8). Every choice — kind, variant, sizes, which bit of a token to flip —
 * comes from a seeded PRNG, so a seed and a sequence number name one input. (The
 * reference codec draws its nonces from the system's random source; that changes bytes of
 * a token, never what kind of token it is: the generator checks each forged token is
 * refused and each genuine one accepted before handing the message out.)
 *
 * Each message is unique (its sequence number is in its Message-ID, body or bytes), so
 * mailctl's repeat detection (same Message-ID, or same bytes without one) never folds two
 * of them into one communication.
 */

export interface HostileContext {
  kb: string;
  serverUrl: string;
  table: string;
  /** Records that exist before the run: genuine replies update them, forged ones aim at them. */
  records: ReadonlyArray<{ id: number; title: string }>;
  /** The KB's reference keys (for genuine tokens, and to check forgeries are refused). */
  keys: RefKeys;
  activeKeyId: string;
}

export type ReferenceLabel =
  | { kind: 'genuine'; recordId: number; how: string }
  | { kind: 'forged'; recordId: number; how: string };

export interface HostileMessage {
  seq: number;
  kind: string;
  variant: string;
  raw: Buffer;
  /**
   * The Message-ID mailctl reads from it (first `<…>` of the first Message-ID header):
   * a string, null when it has none, undefined when the input is too broken to say.
   */
  messageId: string | null | undefined;
  reference: ReferenceLabel | null;
  /** Built to be unparseable (kept as `quarantined`). */
  expectQuarantine?: boolean;
}

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  constructor(readonly rnd: () => number, readonly seq: number, readonly ctx: HostileContext) {}
  int(min: number, max: number): number {
    return min + Math.floor(this.rnd() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rnd() * items.length)]!;
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.rnd() * 256);
    return out;
  }
  /** A unique Message-ID (without brackets) for this message. */
  id(kind: string): string {
    return `h${this.seq}.${kind}@hostile.test`;
  }
  get marker(): string {
    return `hostile message #${this.seq}`;
  }
  record(): { id: number; title: string } {
    return this.pick(this.ctx.records);
  }
}

type Part = string | Buffer;
const CRLF = '\r\n';

function join(parts: Part[]): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
}

/** Header lines + blank line + body, with `eol` line ends. */
function message(headers: Part[], body: Part, eol = CRLF): Buffer {
  const parts: Part[] = [];
  for (const h of headers) parts.push(h, eol);
  parts.push(eol, body);
  return join(parts);
}

interface Std {
  from?: string | null;
  to?: string | null;
  subject?: Part | null;
  messageId?: string | null;
  date?: string | null;
  extra?: Part[];
  contentType?: string | null;
  cte?: string | null;
}

/** The usual headers of an ordinary message, each replaceable or removable. */
function std(g: Gen, o: Std = {}): Part[] {
  const h: Part[] = [];
  if (o.from !== null) h.push(`From: ${o.from ?? `Sender ${g.seq} <sender${g.seq}@outside.test>`}`);
  if (o.to !== null) h.push(`To: ${o.to ?? `${g.ctx.table}@acme.test`}`);
  if (o.subject !== null) h.push(typeof o.subject === 'object' && o.subject !== undefined ? join(['Subject: ', o.subject]) : `Subject: ${o.subject ?? `Hostile ${g.seq}`}`);
  if (o.messageId !== null) h.push(`Message-ID: <${o.messageId ?? g.id('std')}>`);
  if (o.date !== null) h.push(`Date: ${o.date ?? 'Fri, 27 Nov 2026 10:00:00 +0000'}`);
  h.push('MIME-Version: 1.0');
  if (o.contentType !== null) h.push(`Content-Type: ${o.contentType ?? 'text/plain; charset=utf-8'}`);
  if (o.cte) h.push(`Content-Transfer-Encoding: ${o.cte}`);
  h.push(...(o.extra ?? []));
  return h;
}

interface Built {
  variant: string;
  raw: Buffer;
  messageId: string | null | undefined;
  reference?: ReferenceLabel;
  expectQuarantine?: boolean;
}

/** A plain message whose only unusual part is the given headers/body. */
function plain(g: Gen, kind: string, variant: string, o: Std, body: Part, eol = CRLF): Built {
  const messageId = o.messageId === undefined ? g.id(kind) : o.messageId;
  return { variant, raw: message(std(g, { ...o, messageId }), body, eol), messageId };
}

// ---------------------------------------------------------------------------------------
// References: genuine (sealed with the KB's key, naming a record that exists) and forged.

function realKey(ctx: HostileContext): Buffer {
  return ctx.keys.get(ctx.activeKeyId)!;
}

function refFor(g: Gen, recordId: number, over: { kb?: string; table?: string | null } = {}) {
  return { kb: over.kb ?? g.ctx.kb, serverUrl: g.ctx.serverUrl, table: over.table === undefined ? g.ctx.table : over.table, recordId, origin: `rule:${g.int(1, 99)}`, sentAt: new Date(Date.UTC(2026, 10, 20)) };
}

function host(ctx: HostileContext): string {
  return new URL(ctx.serverUrl).hostname;
}

/** Flips one seeded bit of a base64url token's bytes (not its characters: a last character's unused bits would decode the same). */
function bitFlip(g: Gen, token: string): string {
  const bytes = Buffer.from(token, 'base64url');
  const bit = g.int(0, bytes.length * 8 - 1);
  bytes[bit >> 3] = bytes[bit >> 3]! ^ (1 << (bit & 7));
  return bytes.toString('base64url');
}

/** The token without 1–20 of its last characters (never shorter than 20, so it still looks like a token). */
function truncate(g: Gen, token: string): string {
  return token.slice(0, token.length - g.int(1, Math.min(20, token.length - 20)));
}

function mustRefuseFull(ctx: HostileContext, token: string, how: string): string {
  const opened = openReference(token, ctx.keys);
  if (opened.ok && opened.value.kb === ctx.kb && ctx.records.some((r) => r.id === opened.value.recordId && opened.value.table === ctx.table)) {
    throw new Error(`generator bug: the forged full token (${how}) authenticates and names a record`);
  }
  return token;
}

function mustRefuseSubject(ctx: HostileContext, token: string, how: string): string {
  const opened = openSubjectToken(token, ctx.keys);
  if (opened.ok && ctx.records.some((r) => r.id === opened.value.recordId) && opened.value.tableHash === createHash('sha256').update(ctx.table).digest().subarray(0, 4).toString('hex')) {
    throw new Error(`generator bug: the forged subject token (${how}) authenticates and names a record`);
  }
  return token;
}

/**
 * A forged full token aimed at `recordId`, and how it was forged. `unauthentic` leaves out
 * the tokens sealed with the KB's own key that name something that does not exist here
 * (another KB, table or record): those authenticate, and the first candidate that
 * authenticates is the message's reference (find-reference), so they cannot be decoys.
 */
function forgedFull(g: Gen, recordId: number, options: { unauthentic?: boolean } = {}): { token: string; how: string } {
  const ctx = g.ctx;
  const genuine = sealReference(refFor(g, recordId), ctx.activeKeyId, realKey(ctx));
  const how = options.unauthentic
    ? g.pick(['wrong-key', 'bit-flip', 'truncated', 'unknown-key-id', 'not-base64', 'spliced'] as const)
    : g.pick(['wrong-key', 'bit-flip', 'truncated', 'other-kb', 'no-such-record', 'unknown-key-id', 'other-table', 'not-base64', 'spliced'] as const);
  let token: string;
  switch (how) {
    case 'wrong-key': token = sealReference(refFor(g, recordId), ctx.activeKeyId, g.bytes(32)); break;
    case 'bit-flip': token = bitFlip(g, genuine); break;
    case 'truncated': token = truncate(g, genuine); break;
    case 'other-kb': token = sealReference(refFor(g, recordId, { kb: `${ctx.kb}-evil` }), ctx.activeKeyId, realKey(ctx)); break;
    case 'no-such-record': token = sealReference(refFor(g, 900_000 + g.int(0, 99_999)), ctx.activeKeyId, realKey(ctx)); break;
    case 'unknown-key-id': token = sealReference(refFor(g, recordId), `k${g.int(100, 255)}`, realKey(ctx)); break;
    case 'other-table': token = sealReference(refFor(g, recordId, { table: 'no-such-table' }), ctx.activeKeyId, realKey(ctx)); break;
    case 'not-base64': token = `${genuine.slice(0, 20)}!$%${genuine.slice(23)}`; break;
    case 'spliced': {
      // The head (version, key, nonce) of one genuine token with the body and tag of another.
      const other = Buffer.from(sealReference(refFor(g, recordId), ctx.activeKeyId, realKey(ctx)), 'base64url');
      const mine = Buffer.from(genuine, 'base64url');
      token = Buffer.concat([mine.subarray(0, 14), other.subarray(14)]).toString('base64url');
      break;
    }
  }
  return { token: mustRefuseFull(ctx, token, how), how };
}

function forgedSubjectToken(g: Gen, recordId: number): { token: string; how: string } {
  const ctx = g.ctx;
  const genuine = sealSubjectToken(refFor(g, recordId), ctx.activeKeyId, realKey(ctx));
  const how = g.pick(['wrong-key', 'bit-flip', 'truncated', 'no-such-record', 'other-table', 'unknown-key-id'] as const);
  let token: string;
  switch (how) {
    case 'wrong-key': token = sealSubjectToken(refFor(g, recordId), ctx.activeKeyId, g.bytes(32)); break;
    case 'bit-flip': token = bitFlip(g, genuine); break;
    case 'truncated': token = truncate(g, genuine); break;
    case 'no-such-record': token = sealSubjectToken(refFor(g, 900_000 + g.int(0, 99_999)), ctx.activeKeyId, realKey(ctx)); break;
    case 'other-table': token = sealSubjectToken(refFor(g, recordId, { table: 'no-such-table' }), ctx.activeKeyId, realKey(ctx)); break;
    case 'unknown-key-id': token = sealSubjectToken(refFor(g, recordId), `k${g.int(100, 255)}`, realKey(ctx)); break;
  }
  return { token: mustRefuseSubject(ctx, token, how), how };
}

function buildForged(g: Gen): Built {
  const record = g.record();
  const where = g.pick(['header', 'in-reply-to', 'references', 'message-id', 'subject', 'everywhere', 'many-headers', 'bounce'] as const);
  const messageId = g.id('forged');
  const full = forgedFull(g, record.id);
  const sub = forgedSubjectToken(g, record.id);
  const h = host(g.ctx);
  const from = `Mallory ${g.seq} <mallory${g.seq}@evil.test>`;
  const body = `Change the bank account. ${g.marker}`;
  const label = (how: string): ReferenceLabel => ({ kind: 'forged', recordId: record.id, how: `${where}/${how}` });
  switch (where) {
    case 'header':
      return { variant: `${where}/${full.how}`, raw: message(std(g, { from, subject: `RE: ${record.title}`, messageId, extra: [`X-Mailctl-Ref: ${full.token}`] }), body), messageId, reference: label(full.how) };
    case 'in-reply-to':
      return { variant: `${where}/${full.how}`, raw: message(std(g, { from, subject: `RE: ${record.title}`, messageId, extra: [`In-Reply-To: <mc.${full.token}@${h}>`] }), body), messageId, reference: label(full.how) };
    case 'references': {
      const noise = Array.from({ length: g.int(0, 30) }, (_, i) => `<n${i}.${g.seq}@elsewhere.test>`).join(' ');
      return { variant: `${where}/${full.how}`, raw: message(std(g, { from, subject: `RE: ${record.title}`, messageId, extra: [`References: ${noise} <mc.${full.token}@${h}>`] }), body), messageId, reference: label(full.how) };
    }
    case 'message-id':
      // Claims to be our own outbound message.
      return { variant: `${where}/${full.how}`, raw: message(std(g, { from, messageId: `mc.${full.token}@${h}` }), body), messageId: `mc.${full.token}@${h}`, reference: label(full.how) };
    case 'subject': {
      const folded = g.chance(0.3) ? `RE: ${record.title}\r\n ${subjectTag(sub.token)}` : `RE: ${record.title} ${subjectTag(sub.token)}`;
      return { variant: `${where}/${sub.how}`, raw: message(std(g, { from, subject: folded, messageId }), body), messageId, reference: label(sub.how) };
    }
    case 'everywhere':
      return {
        variant: `${where}/${full.how}+${sub.how}`,
        raw: message(std(g, { from, subject: `RE: ${record.title} ${subjectTag(sub.token)}`, messageId, extra: [`X-Mailctl-Ref: ${full.token}`, `In-Reply-To: <mc.${full.token}@${h}>`, `References: <mc.${full.token}@${h}>`] }), body),
        messageId, reference: label(`${full.how}+${sub.how}`),
      };
    case 'many-headers': {
      const headers = Array.from({ length: g.int(20, 200) }, () => `X-Mailctl-Ref: ${forgedFull(g, record.id).token}`);
      return { variant: where, raw: message(std(g, { from, subject: `RE: ${record.title}`, messageId, extra: headers }), body), messageId, reference: label('many') };
    }
    case 'bounce': {
      // A "bounce" that carries a forged copy of our message: the embedded reference must be refused too.
      const boundary = `b${g.seq}`;
      const inner = [`From: ${g.ctx.table}@acme.test`, `To: someone@outside.test`, `Subject: ${record.title} ${subjectTag(sub.token)}`, `Message-ID: <mc.${full.token}@${h}>`, `X-Mailctl-Ref: ${full.token}`, '', 'the original'].join(CRLF);
      const raw = message(std(g, { from, subject: 'Undeliverable', messageId, contentType: `multipart/mixed; boundary="${boundary}"` }), [
        `--${boundary}`, 'Content-Type: text/plain', '', body, `--${boundary}`, 'Content-Type: message/rfc822', '', inner, `--${boundary}--`, '',
      ].join(CRLF));
      return { variant: `${where}/${full.how}`, raw, messageId, reference: label(full.how) };
    }
  }
}

function buildGenuine(g: Gen): Built {
  const record = g.record();
  const ctx = g.ctx;
  const stamp = stampReference(refFor(g, record.id), record.title, ctx.activeKeyId, realKey(ctx));
  const opened = openReference(stamp.header, ctx.keys);
  if (!opened.ok || opened.value.recordId !== record.id) throw new Error('generator bug: a genuine token does not open');
  const where = g.pick(['header', 'in-reply-to', 'references', 'subject', 'decoys-then-real', 'bad-charset-body', 'lf-only'] as const);
  const messageId = g.id('genuine');
  const from = `Partner ${g.seq} <partner${g.seq}@partner.test>`;
  const body = `Agreed, ${g.marker}.\r\n\r\nOn Mon, 23 Nov 2026, Acme wrote:\r\n> quoted history`;
  const reference: ReferenceLabel = { kind: 'genuine', recordId: record.id, how: where };
  const h = host(ctx);
  const decoy = forgedFull(g, record.id, { unauthentic: true }).token;
  switch (where) {
    case 'header': return { variant: where, raw: message(std(g, { from, subject: `RE: ${record.title}`, messageId, extra: [`X-Mailctl-Ref: ${stamp.header}`] }), body), messageId, reference };
    case 'in-reply-to': return { variant: where, raw: message(std(g, { from, subject: `RE: ${record.title}`, messageId, extra: [`In-Reply-To: <${stamp.messageId}>`] }), body), messageId, reference };
    case 'references': return { variant: where, raw: message(std(g, { from, subject: 'Re: something else', messageId, extra: [`References: <a.${g.seq}@x.test>\r\n <${stamp.messageId}>\r\n <b.${g.seq}@y.test>`] }), body), messageId, reference };
    case 'subject': return { variant: where, raw: message(std(g, { from, subject: `RE: AW: ${stamp.subject}`, messageId }), body), messageId, reference };
    case 'decoys-then-real':
      // Forged candidates first (refused, logged), the genuine one later: the genuine one wins.
      return { variant: where, raw: message(std(g, { from, subject: `RE: ${stamp.subject}`, messageId, extra: [`X-Mailctl-Ref: ${decoy}`, `In-Reply-To: <mc.${decoy}@${h}>`] }), body), messageId, reference };
    case 'bad-charset-body':
      return { variant: where, raw: message(std(g, { from, subject: `RE: ${stamp.subject}`, messageId, contentType: 'text/plain; charset=x-no-such-charset', cte: 'quoted-printable' }), `Agreed =ZZ =\r\n=C3=28 ${g.marker}`), messageId, reference };
    case 'lf-only':
      return { variant: where, raw: message(std(g, { from, subject: `RE: ${record.title}`, messageId, extra: [`X-Mailctl-Ref: ${stamp.header}`] }), `Agreed, ${g.marker}.\n`, '\n'), messageId, reference };
  }
}

// ---------------------------------------------------------------------------------------
// Malformed MIME and hostile headers.

function buildBrokenBoundary(g: Gen): Built {
  const b = `=_b${g.seq}`;
  const variant = g.pick(['never-used', 'empty-param', 'missing-param', 'unterminated', 'nested-same', 'long-boundary', 'wide', 'preamble-only', 'quote-mismatch'] as const);
  const mk = (ct: string, body: string) => plain(g, 'boundary', variant, { contentType: ct }, body);
  switch (variant) {
    case 'never-used': return mk(`multipart/mixed; boundary="${b}"`, `just text, no parts ${g.marker}\r\n`);
    case 'empty-param': return mk('multipart/mixed; boundary=""', `--\r\nContent-Type: text/plain\r\n\r\n${g.marker}\r\n----\r\n`);
    case 'missing-param': return mk('multipart/alternative', `--x\r\nContent-Type: text/plain\r\n\r\n${g.marker}\r\n--x--\r\n`);
    case 'unterminated': return mk(`multipart/mixed; boundary="${b}"`, `--${b}\r\nContent-Type: text/plain\r\n\r\n${g.marker}\r\n--${b}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA`);
    case 'nested-same': return mk(`multipart/mixed; boundary="${b}"`, `--${b}\r\nContent-Type: multipart/mixed; boundary="${b}"\r\n\r\n--${b}\r\nContent-Type: text/plain\r\n\r\n${g.marker}\r\n--${b}--\r\n--${b}--\r\n`);
    case 'long-boundary': {
      const long = 'x'.repeat(g.int(100, 5000));
      return mk(`multipart/mixed; boundary="${long}"`, `--${long}\r\nContent-Type: text/plain\r\n\r\n${g.marker}\r\n--${long}--\r\n`);
    }
    case 'wide': {
      const n = g.int(1000, 8000);
      const parts: string[] = [];
      for (let i = 0; i < n; i++) parts.push(`--${b}\r\nContent-Type: text/plain\r\n\r\n${i}\r\n`);
      return mk(`multipart/mixed; boundary="${b}"`, `${parts.join('')}--${b}\r\nContent-Type: text/plain\r\n\r\n${g.marker}\r\n--${b}--\r\n`);
    }
    case 'preamble-only': return mk(`multipart/mixed; boundary="${b}"`, `This is a preamble ${g.marker}\r\n--${b}--\r\nepilogue\r\n`);
    case 'quote-mismatch': return mk(`multipart/mixed; boundary="${b}`, `--${b}\r\nContent-Type: text/plain\r\n\r\n${g.marker}\r\n--${b}--\r\n`);
  }
}

function buildBadCharset(g: Gen): Built {
  const variant = g.pick(['unknown-charset', 'utf-7', 'utf-16-odd', 'iso-2022-jp-broken', 'encoded-word-unknown', 'encoded-word-bad-b64', 'encoded-word-bad-q', 'charset-in-name', 'gb18030-garbage'] as const);
  switch (variant) {
    case 'unknown-charset': return plain(g, 'charset', variant, { contentType: 'text/plain; charset="x-no-such-charset-ǅ"' }, `Hello ${g.marker} \u00e9\u00e8`);
    case 'utf-7': return plain(g, 'charset', variant, { contentType: 'text/plain; charset=utf-7' }, `Hi +AGEAYgBj- +- +ZZZZ ${g.marker}`);
    case 'utf-16-odd': return plain(g, 'charset', variant, { contentType: 'text/plain; charset=utf-16le', cte: '8bit' }, join([Buffer.from(`${g.marker}`, 'utf16le'), Buffer.from([0x41])]));
    case 'iso-2022-jp-broken': return plain(g, 'charset', variant, { contentType: 'text/plain; charset=iso-2022-jp', cte: '7bit' }, join([Buffer.from([0x1b, 0x24, 0x42, 0x30, 0x21, 0x1b, 0x24]), ` ${g.marker}`]));
    case 'encoded-word-unknown': return plain(g, 'charset', variant, { subject: '=?x-bogus?B?SGVsbG8=?= =?bogus*lang?Q?=ZZ?=' }, g.marker);
    case 'encoded-word-bad-b64': return plain(g, 'charset', variant, { subject: '=?utf-8?B?@@@###?= =?utf-8?B?SGVsbG8?= =?utf-8?B?=?=', from: '=?utf-8?B?!!!?= <weird@outside.test>' }, g.marker);
    case 'encoded-word-bad-q': return plain(g, 'charset', variant, { subject: '=?utf-8?Q?=ZZ=C3=?= =?utf-8?Q?caf=C3=A9=?=' }, g.marker);
    case 'charset-in-name': return plain(g, 'charset', variant, { contentType: 'text/plain; charset="../../../etc/passwd"' }, g.marker);
    case 'gb18030-garbage': return plain(g, 'charset', variant, { contentType: 'text/plain; charset=gb18030', cte: '8bit' }, join([g.bytes(g.int(10, 500)), ` ${g.marker}`]));
  }
}

function buildBadEncoding(g: Gen): Built {
  const variant = g.pick(['b64-garbage', 'b64-truncated', 'qp-garbage', 'unknown-cte', 'cte-on-multipart', 'binary-nul', 'duplicate-cte', 'b64-html'] as const);
  switch (variant) {
    case 'b64-garbage': return plain(g, 'cte', variant, { cte: 'base64' }, `!!!! not base64 @@@ ${g.marker} ====\r\nQUJD===\r\n`);
    case 'b64-truncated': return plain(g, 'cte', variant, { cte: 'base64' }, `${Buffer.from(`${g.marker} `.repeat(40)).toString('base64').slice(0, -g.int(1, 7))}`);
    case 'qp-garbage': return plain(g, 'cte', variant, { cte: 'quoted-printable' }, `=ZZ=\r\n=0=\r\n=${'='.repeat(g.int(1, 2000))} ${g.marker}=`);
    case 'unknown-cte': return plain(g, 'cte', variant, { cte: 'x-uuencode-or-what' }, `begin 644 x\r\n${g.marker}\r\nend\r\n`);
    case 'cte-on-multipart': {
      const b = `c${g.seq}`;
      return plain(g, 'cte', variant, { contentType: `multipart/mixed; boundary=${b}`, cte: 'base64' }, `--${b}\r\nContent-Type: text/plain\r\n\r\n${g.marker}\r\n--${b}--\r\n`);
    }
    case 'binary-nul': return plain(g, 'cte', variant, { cte: 'binary' }, join([`${g.marker}\0\0`, g.bytes(g.int(100, 4000)), '\r\n\0']));
    case 'duplicate-cte': return plain(g, 'cte', variant, { cte: 'base64', extra: ['Content-Transfer-Encoding: quoted-printable'] }, `${Buffer.from(g.marker).toString('base64')}\r\n`);
    case 'b64-html': return plain(g, 'cte', variant, { contentType: 'text/html; charset=utf-8', cte: 'base64' }, Buffer.from(`<p>${g.marker}<script>alert(1)</script><p`).toString('base64'));
  }
}

/** About 1 MB of one character class, the shapes that make naive regular expressions slow. */
function filler(g: Gen, size: number): { name: string; text: string } {
  size -= size % 2;
  const name = g.pick(['letters', 'spaces', 'angles', 'at-signs', 'encoded-words', 'mixed', 'ref-tags', 'commas'] as const);
  switch (name) {
    case 'letters': return { name, text: 'a'.repeat(size) };
    case 'spaces': return { name, text: `a${' '.repeat(size)}b` };
    case 'angles': return { name, text: '<'.repeat(size) };
    case 'at-signs': return { name, text: '<' + 'a@'.repeat(size / 2) };
    case 'encoded-words': return { name, text: '=?utf-8?Q?a?= '.repeat(Math.floor(size / 14)) };
    case 'mixed': return { name, text: Array.from({ length: size / 64 }, () => g.bytes(48).toString('base64')).join('') };
    case 'ref-tags': return { name, text: '[ref:'.repeat(Math.floor(size / 5)) };
    case 'commas': return { name, text: 'x,'.repeat(size / 2) };
  }
}

function buildHugeHeader(g: Gen): Built {
  const header = g.pick(['Subject', 'X-Filler', 'From', 'To', 'References', 'Message-ID', 'Content-Type', 'In-Reply-To'] as const);
  // mailparser refuses a header section over 1 MB: just under it is parsed (and reaches
  // mailctl's own header handling), just over it is quarantined.
  const size = g.pick([1024 * 1024 - 8 * 1024, 1024 * 1024, g.int(100_000, 1024 * 1024 - 8 * 1024)]);
  const fill = filler(g, size);
  const folded = g.chance(0.3);
  const value = folded ? fill.text.replace(/(.{900})/g, '$1\r\n ') : fill.text;
  const variant = `${header}/${fill.name}${folded ? '/folded' : ''}`;
  const messageId = g.id('huge');
  const headers = std(g, {
    messageId: header === 'Message-ID' ? null : messageId,
    ...(header === 'Subject' ? { subject: value } : {}),
    ...(header === 'From' ? { from: value } : {}),
    ...(header === 'To' ? { to: value } : {}),
    ...(header === 'Content-Type' ? { contentType: `text/plain; x=${value}` } : {}),
    extra: header === 'X-Filler' || header === 'References' || header === 'In-Reply-To' || header === 'Message-ID' ? [`${header}: ${value}`] : [],
  });
  // A huge Message-ID header: what mailctl takes from it depends on the filler; not predicted.
  return { variant: `${variant}/${size}`, raw: message(headers, `${g.marker}\r\n`), messageId: header === 'Message-ID' ? undefined : messageId };
}

function buildOversizedHeader(g: Gen): Built {
  // Over mailparser's header limit: cannot be parsed at all, so it is quarantined.
  const raw = message(std(g, { subject: `${'x'.repeat(2_200_000 + g.int(0, 500_000))}`, messageId: g.id('oversized') }), g.marker);
  return { variant: 'subject-over-2MB', raw, messageId: undefined, expectQuarantine: true };
}

function buildRfc822Bomb(g: Gen): Built {
  const variant = g.pick(['deep', 'deep-multipart', 'wide-digest', 'deep-base64'] as const);
  const depth = variant === 'deep' ? g.int(100, 3000) : variant === 'deep-multipart' ? g.int(50, 1000) : variant === 'deep-base64' ? g.int(3, 8) : 0;
  const messageId = g.id('rfc822');
  if (variant === 'wide-digest') {
    const b = `d${g.seq}`;
    const n = g.int(500, 4000);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) parts.push(`--${b}\r\n\r\nFrom: p${i}@x.test\r\nSubject: part ${i}\r\n\r\nbody ${i}\r\n`);
    return plain(g, 'rfc822', `${variant}/${n}`, { contentType: `multipart/digest; boundary="${b}"`, messageId }, `${parts.join('')}--${b}--\r\n`);
  }
  let inner = `From: innermost@x.test\r\nSubject: innermost\r\n\r\n${g.marker}\r\n`;
  for (let level = 0; level < depth; level++) {
    if (variant === 'deep') {
      inner = `From: level${level}@x.test\r\nSubject: level ${level}\r\nContent-Type: message/rfc822\r\n\r\n${inner}`;
    } else if (variant === 'deep-multipart') {
      const b = `n${level}`;
      inner = `From: level${level}@x.test\r\nContent-Type: multipart/mixed; boundary="${b}"\r\n\r\n--${b}\r\nContent-Type: message/rfc822\r\n\r\n${inner}\r\n--${b}--\r\n`;
    } else {
      inner = `From: level${level}@x.test\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n${Buffer.from(inner).toString('base64').replace(/.{76}/g, '$&\r\n')}\r\n`;
    }
  }
  return { variant: `${variant}/${depth}`, raw: message(std(g, { contentType: 'message/rfc822', messageId }), inner), messageId };
}

function buildCrlfInjection(g: Gen): Built {
  const variant = g.pick(['encoded-crlf', 'encoded-lf', 'bare-cr', 'encoded-nul', 'encoded-ansi', 'encoded-bcc', 'q-crlf', 'unicode-separators'] as const);
  const inj = `\r\nBcc: victim${g.seq}@outside.test\r\nX-Injected: yes`;
  const ew = (text: string) => `=?utf-8?B?${Buffer.from(text).toString('base64')}?=`;
  const subjects: Record<typeof variant, Part> = {
    'encoded-crlf': `Invoice ${ew(inj)} ${g.seq}`,
    'encoded-lf': `Invoice ${ew(`\nX-Injected: yes\n`)} ${g.seq}`,
    'bare-cr': join([`Invoice ${g.seq}\rX-Injected: yes\rBcc: victim@outside.test`]),
    'encoded-nul': `Invoice ${ew(`a\0b\0\0c`)} ${g.seq}`,
    'encoded-ansi': `Invoice ${ew('\u001b[2J\u001b[31mPWNED\u001b[0m\u0007')} ${g.seq}`,
    'encoded-bcc': `${ew(`Hello${inj}`)}`,
    'q-crlf': `=?utf-8?Q?Hello=0D=0AX-Injected=3A_yes=0D=0A=0D=0Abody?= ${g.seq}`,
    'unicode-separators': `Invoice ${ew('a\u2028b\u2029c\u0085d')} ${g.seq}`,
  };
  return plain(g, 'crlf', variant, { subject: subjects[variant] }, `${g.marker}\r\n`);
}

function buildNulBytes(g: Gen): Built {
  const variant = g.pick(['header-value', 'header-name', 'body', 'message-id', 'boundary', 'from'] as const);
  switch (variant) {
    case 'header-value': return plain(g, 'nul', variant, { subject: Buffer.from(`a\0b\0\0${g.seq}`, 'latin1') }, g.marker);
    case 'header-name': return plain(g, 'nul', variant, { extra: [Buffer.from('X-\0Evil\0: 1', 'latin1')] }, g.marker);
    case 'body': return plain(g, 'nul', variant, {}, join([`${g.marker}\0`, Buffer.alloc(g.int(1, 5000)), '\r\n']));
    case 'message-id': {
      const raw = message(std(g, { messageId: null, extra: [Buffer.from(`Message-ID: <h${g.seq}\0nul@hostile.test>`, 'latin1')] }), g.marker);
      return { variant, raw, messageId: undefined };
    }
    case 'boundary': return plain(g, 'nul', variant, { contentType: 'multipart/mixed; boundary="a\0b"' }, join([Buffer.from('--a\0b\r\nContent-Type: text/plain\r\n\r\n', 'latin1'), g.marker, Buffer.from('\r\n--a\0b--\r\n', 'latin1')]));
    case 'from': return plain(g, 'nul', variant, { from: `\0\0@\0 <nul${g.seq}\0@outside.test>` }, g.marker);
  }
}

function buildInvalidUtf8(g: Gen): Built {
  const variant = g.pick(['header-raw', 'body-declared-utf8', 'overlong', 'surrogates', 'truncated-seq', 'encoded-invalid', 'random-high'] as const);
  const bad: Record<typeof variant, Buffer> = {
    'header-raw': Buffer.from([0xff, 0xfe, 0x80, 0x81, 0xc3]),
    'body-declared-utf8': Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1]),
    overlong: Buffer.from([0xc0, 0xaf, 0xe0, 0x80, 0xaf, 0xf0, 0x80, 0x80, 0xaf]),
    surrogates: Buffer.from([0xed, 0xa0, 0x80, 0xed, 0xbf, 0xbf]),
    'truncated-seq': Buffer.from([0xe2, 0x82]),
    'encoded-invalid': Buffer.from(`=?utf-8?B?${Buffer.from([0xff, 0xc0, 0xaf, 0xed, 0xa0, 0x80]).toString('base64')}?=`),
    'random-high': Buffer.from(g.bytes(g.int(20, 400)).map((b) => b | 0x80)),
  };
  const b = bad[variant];
  return plain(g, 'utf8', variant, { subject: join([`Bad ${g.seq} `, b]), from: variant === 'header-raw' ? join([b, ` <u${g.seq}@outside.test>`]).toString('latin1') : undefined }, join([g.marker, ' ', b, '\r\n']));
}

function buildMissingHeaders(g: Gen): Built {
  const variant = g.pick(['no-from', 'no-date', 'no-message-id', 'no-headers', 'only-blank-lines', 'no-body', 'nothing-but-from', 'empty-from'] as const);
  switch (variant) {
    case 'no-from': return plain(g, 'missing', variant, { from: null }, g.marker);
    case 'no-date': return plain(g, 'missing', variant, { date: null }, g.marker);
    case 'no-message-id': return plain(g, 'missing', variant, { messageId: null }, g.marker);
    case 'no-headers': return { variant, raw: Buffer.from(`${g.marker}\r\nno headers at all, just text\r\n`), messageId: null };
    // Unique by length: n blank lines (with the sequence number, so no two are the same).
    case 'only-blank-lines': return { variant, raw: Buffer.from('\r\n'.repeat(g.seq + 1)), messageId: null };
    case 'no-body': return { variant, raw: Buffer.from(std(g, { messageId: g.id('missing') }).join(CRLF)), messageId: g.id('missing') };
    case 'nothing-but-from': return { variant, raw: Buffer.from(`From: lonely${g.seq}@outside.test\r\n\r\n`), messageId: null };
    case 'empty-from': return plain(g, 'missing', variant, { from: '', to: '', subject: '' }, g.marker);
  }
}

function buildDuplicateHeaders(g: Gen): Built {
  const variant = g.pick(['two-from', 'two-subject', 'two-message-id', 'two-content-type', 'many-received', 'two-date'] as const);
  switch (variant) {
    case 'two-from': return plain(g, 'dup', variant, { extra: [`From: second${g.seq}@evil.test`] }, g.marker);
    case 'two-subject': return plain(g, 'dup', variant, { extra: [`Subject: second subject ${g.seq}`] }, g.marker);
    case 'two-message-id': {
      const first = g.id('dup');
      return { variant, raw: message(std(g, { messageId: first, extra: [`Message-ID: <second.${g.seq}@hostile.test>`] }), g.marker), messageId: first };
    }
    case 'two-content-type': return plain(g, 'dup', variant, { extra: ['Content-Type: multipart/mixed; boundary=zz'] }, `${g.marker}\r\n--zz\r\n`);
    case 'many-received': return plain(g, 'dup', variant, { extra: Array.from({ length: g.int(100, 3000) }, (_, i) => `Received: from hop${i}.test by hop${i + 1}.test; Fri, 27 Nov 2026 10:00:00 +0000`) }, g.marker);
    case 'two-date': return plain(g, 'dup', variant, { extra: ['Date: yesterday'] }, g.marker);
  }
}

function buildLineEndings(g: Gen): Built {
  const variant = g.pick(['lf-only', 'cr-only', 'mixed', 'no-final-newline', 'eof-in-headers'] as const);
  const messageId = g.id('eol');
  switch (variant) {
    case 'lf-only': return { variant, raw: message(std(g, { messageId }), `${g.marker}\n`, '\n'), messageId };
    // CR-only: one long "line" to most parsers; what mailctl reads from it is not predicted.
    case 'cr-only': return { variant, raw: message(std(g, { messageId }), `${g.marker}\r`, '\r'), messageId: undefined };
    case 'mixed': return { variant, raw: join([`From: mixed${g.seq}@outside.test\nTo: x@acme.test\r\nSubject: mixed\rendings\r\nMessage-ID: <${messageId}>\n\r\n${g.marker}\r`]), messageId };
    case 'no-final-newline': return { variant, raw: message(std(g, { messageId }), g.marker), messageId };
    case 'eof-in-headers': return { variant, raw: Buffer.from(`From: eof${g.seq}@outside.test\r\nMessage-ID: <${messageId}>\r\nSubject: cut off`), messageId };
  }
}

function buildGarbage(g: Gen): Built {
  const n = g.int(1, 64 * 1024);
  return { variant: `random-${n}`, raw: join([g.bytes(n), `\r\n${g.marker}`]), messageId: undefined };
}

function buildHeaderSyntax(g: Gen): Built {
  const variant = g.pick(['no-colon-lines', 'space-in-name', 'leading-continuation', 'empty-name', 'many-tiny-headers', 'colon-only', 'obs-fold-whitespace'] as const);
  switch (variant) {
    case 'no-colon-lines': return plain(g, 'syntax', variant, { extra: ['this line has no colon', '   ', 'nor this one'] }, g.marker);
    case 'space-in-name': return plain(g, 'syntax', variant, { extra: ['X Evil Header: 1', 'Subject : spaced before colon'] }, g.marker);
    case 'leading-continuation': {
      const messageId = g.id('syntax');
      return { variant, raw: message([' continued from nowhere', ...std(g, { messageId })], g.marker), messageId: undefined };
    }
    case 'empty-name': return plain(g, 'syntax', variant, { extra: [': no name', '::::'] }, g.marker);
    case 'many-tiny-headers': return plain(g, 'syntax', variant, { extra: Array.from({ length: g.int(1000, 20000) }, (_, i) => `X-H${i}: ${i}`) }, g.marker);
    case 'colon-only': return plain(g, 'syntax', variant, { subject: ':::', from: ':' }, g.marker);
    case 'obs-fold-whitespace': return plain(g, 'syntax', variant, { subject: `a\r\n \r\n \r\n\t\r\n b ${g.seq}` }, g.marker);
  }
}

function buildHostileBody(g: Gen): Built {
  const size = g.int(500_000, 1_000_000);
  const variant = g.pick(['one-line', 'whitespace-then-char', 'attribution-lines', 'many-quote-markers', 'html-nesting', 'html-entities', 'outlook-blocks'] as const);
  switch (variant) {
    case 'one-line': return plain(g, 'body', variant, {}, `${g.marker} ${'x'.repeat(size)}`);
    case 'whitespace-then-char': return plain(g, 'body', variant, {}, `${g.marker}${' '.repeat(size)}x`);
    case 'attribution-lines': return plain(g, 'body', variant, {}, `${g.marker}\r\nAm${' schrieb x'.repeat(size / 10)}\r\n`);
    case 'many-quote-markers': return plain(g, 'body', variant, {}, `${g.marker}\r\n${'On x\r\n'.repeat(size / 6)}`);
    case 'html-nesting': return plain(g, 'body', variant, { contentType: 'text/html; charset=utf-8' }, `<p>${g.marker}</p>${'<div>'.repeat(size / 5 / 4)}deep${'</div>'.repeat(size / 6 / 8)}`);
    case 'html-entities': return plain(g, 'body', variant, { contentType: 'text/html; charset=utf-8' }, `<p>${g.marker}</p>${'&amp;&#0;&#x110000;&bogus;'.repeat(size / 26 / 4)}`);
    case 'outlook-blocks': return plain(g, 'body', variant, {}, `${g.marker}\r\n${'From: a\r\n'.repeat(size / 9)}`);
  }
}

function buildEncodedWordBomb(g: Gen): Built {
  const variant = g.pick(['many-words', 'rfc2231-continuations', 'long-word'] as const);
  switch (variant) {
    case 'many-words': return plain(g, 'ew', variant, { subject: Array.from({ length: g.int(1000, 20000) }, (_, i) => `=?utf-8?Q?w${i}?=`).join(' ') }, g.marker);
    case 'rfc2231-continuations': {
      const n = g.int(500, 5000);
      const b = `r${g.seq}`;
      const disp = Array.from({ length: n }, (_, i) => `\r\n filename*${i}*=%E2%82%AC${i}`).join(';');
      return plain(g, 'ew', variant, { contentType: `multipart/mixed; boundary=${b}` }, `--${b}\r\nContent-Type: text/plain\r\n\r\n${g.marker}\r\n--${b}\r\nContent-Type: application/octet-stream; name*0*=x-bogus''a; name*1*=%ZZ\r\nContent-Disposition: attachment;${disp}\r\n\r\nabc\r\n--${b}--\r\n`);
    }
    case 'long-word': return plain(g, 'ew', variant, { subject: `=?utf-8?B?${Buffer.from('é'.repeat(g.int(10_000, 200_000))).toString('base64')}?=` }, g.marker);
  }
}

function buildHostileAddresses(g: Gen): Built {
  const variant = g.pick(['group-syntax', 'display-name-spoof', 'thousand-recipients', 'script-name', 'no-at', 'nested-angles', 'comment-address'] as const);
  const from: Record<typeof variant, string> = {
    'group-syntax': 'undisclosed-recipients:;',
    'display-name-spoof': `=?utf-8?Q?ceo=40acme=2Etest_<ceo@acme.test>?= <spoof${g.seq}@evil.test>`,
    'thousand-recipients': `many${g.seq}@outside.test`,
    'script-name': `"<script>alert(1)</script>" <xss${g.seq}@evil.test>`,
    'no-at': `just-a-name-${g.seq}`,
    'nested-angles': `<<<a${g.seq}@b.test>>> <<c@d>`,
    'comment-address': `(comment (nested) <fake@x.test>) real${g.seq}@outside.test (trailing`,
  };
  const to = variant === 'thousand-recipients' ? Array.from({ length: 1000 }, (_, i) => `r${i}@x.test`).join(', ') : undefined;
  return plain(g, 'addr', variant, { from: from[variant], to }, g.marker);
}

function buildBadDate(g: Gen): Built {
  const date = g.pick(['yesterday', 'Fri, 99 Foo 99999 99:99:99 +9999', '', '0', 'Thu, 01 Jan 1970 00:00:00 -2400', `${'9'.repeat(400)}`]);
  return plain(g, 'date', date.slice(0, 20) || 'empty', { date }, g.marker);
}

function buildMessageIdHostile(g: Gen): Built {
  const variant = g.pick(['no-brackets', 'with-space', 'empty-brackets', 'very-long', 'many-ids'] as const);
  switch (variant) {
    case 'no-brackets': return { variant, raw: message(std(g, { messageId: null, extra: [`Message-ID: ${g.id('mid')}`] }), g.marker), messageId: null };
    case 'with-space': return { variant, raw: message(std(g, { messageId: null, extra: [`Message-ID: <a b ${g.seq}@hostile.test>`] }), g.marker), messageId: null };
    case 'empty-brackets': return { variant, raw: message(std(g, { messageId: null, extra: ['Message-ID: <>'] }), g.marker), messageId: null };
    case 'very-long': {
      const id = `${'l'.repeat(g.int(1000, 100_000))}.${g.seq}@hostile.test`;
      return { variant, raw: message(std(g, { messageId: id }), g.marker), messageId: id };
    }
    case 'many-ids': {
      const id = g.id('mid');
      return { variant, raw: message(std(g, { messageId: null, extra: [`Message-ID: <${id}> <x${g.seq}@y> <z@w>`] }), g.marker), messageId: id };
    }
  }
}

function buildAutomatic(g: Gen): Built {
  // Automatic mail with a hostile twist: never creates or updates records.
  const variant = g.pick(['bounce-newlines', 'auto-submitted-forged', 'report-no-parts'] as const);
  const messageId = g.id('auto');
  const b = `a${g.seq}`;
  switch (variant) {
    case 'bounce-newlines':
      // A delivery report whose returned message is only blank lines: nothing looks like a header.
      return { variant, raw: message(std(g, { from: 'MAILER-DAEMON@outside.test', subject: 'Undelivered', messageId, contentType: `multipart/report; report-type=delivery-status; boundary="${b}"` }),
        `--${b}\r\nContent-Type: text/plain\r\n\r\n${g.marker}\r\n--${b}\r\nContent-Type: message/rfc822\r\n\r\n${'\n'.repeat(g.int(10_000, 70_000))}\r\n--${b}--\r\n`), messageId };
    case 'auto-submitted-forged': {
      const record = g.record();
      const forged = forgedFull(g, record.id);
      return { variant, raw: message(std(g, { subject: 'Automatic reply', messageId, extra: ['Auto-Submitted: auto-replied', `X-Mailctl-Ref: ${forged.token}`] }), g.marker), messageId, reference: { kind: 'forged', recordId: record.id, how: `auto/${forged.how}` } };
    }
    case 'report-no-parts':
      return { variant, raw: message(std(g, { from: `postmaster@outside.test`, messageId, contentType: 'multipart/report; report-type=delivery-status' }), g.marker), messageId };
  }
}

// ---------------------------------------------------------------------------------------
// Regressions: the smallest inputs found to stall `mailctl daemon --once` (regular
// expressions that backtracked quadratically on a long header or body). Each is its own
// kind, so every run — the CI tier too — has each of them at least once.

const half = 512 * 1024;
export const regressionInputs: ReadonlyArray<{ kind: string; build: Builder }> = [
  // parse-message address(): /([^\s<>",;:]+@[^\s<>",;:]+)/ on a From without "@".
  { kind: 'regression: From without @', build: (g) => plain(g, 'regress', 'from-no-at', { from: 'a'.repeat(half) }, g.marker) },
  // parse-message address(): /<([^<>\s]+@[^<>\s]+)>/ on "<a@a@a@…" without ">".
  { kind: 'regression: From <a@a@…', build: (g) => plain(g, 'regress', 'from-at-signs', { from: `<${'a@'.repeat(half / 2)}` }, g.marker) },
  // parse-message display name: /<[^>]*>/ on "<<<<…".
  { kind: 'regression: From <<<<…', build: (g) => plain(g, 'regress', 'from-angles', { from: '<'.repeat(half) }, g.marker) },
  // the same address() on each part of To.
  { kind: 'regression: To without @', build: (g) => plain(g, 'regress', 'to-no-at', { to: 'a'.repeat(half) }, g.marker) },
  // inbound-rules titleOf(): /\s*\[ref:…\]\s*/g on a subject with a long run of spaces.
  { kind: 'regression: Subject of spaces', build: (g) => plain(g, 'regress', 'subject-spaces', { subject: `a${' '.repeat(half)}b` }, g.marker) },
  // strip-quoted: /\s+$/ on a body of spaces that does not end in a space.
  { kind: 'regression: body of spaces', build: (g) => plain(g, 'regress', 'body-spaces', {}, `${g.marker}${' '.repeat(2 * half)}x`) },
  // strip-quoted: /^Am .+ schrieb .+:$/i on "Am schrieb x schrieb x …".
  { kind: 'regression: Am … schrieb …', build: (g) => plain(g, 'regress', 'body-schrieb', {}, `${g.marker}\r\nAm${' schrieb x'.repeat(half / 10)}\r\n`) },
  // ingest-message: /^[\s\S]*?(?=^[A-Za-z-]+:)/m on a bounce's returned copy of 64 KB of blank lines.
  {
    kind: 'regression: bounce of blank lines',
    build: (g) => {
      const b = `rb${g.seq}`;
      return plain(g, 'regress', 'bounce-blank-lines', { from: 'MAILER-DAEMON@outside.test', contentType: `multipart/mixed; boundary="${b}"` },
        `--${b}\r\nContent-Type: text/plain\r\n\r\n${g.marker}\r\n--${b}\r\nContent-Type: message/rfc822\r\n\r\n${'\n'.repeat(70_000)}\r\n--${b}--\r\n`);
    },
  },
];

type Builder = (g: Gen) => Built;

/** Each kind with its weight (how often it comes up after the first round, which has each kind once). */
export const hostileKinds: ReadonlyArray<{ kind: string; weight: number; build: Builder }> = [
  { kind: 'forged-reference', weight: 14, build: buildForged },
  { kind: 'genuine-reference', weight: 4, build: buildGenuine },
  { kind: 'broken-boundary', weight: 8, build: buildBrokenBoundary },
  { kind: 'bad-charset', weight: 8, build: buildBadCharset },
  { kind: 'bad-transfer-encoding', weight: 8, build: buildBadEncoding },
  { kind: 'huge-header-line', weight: 3, build: buildHugeHeader },
  { kind: 'oversized-header', weight: 0.3, build: buildOversizedHeader },
  { kind: 'rfc822-bomb', weight: 3, build: buildRfc822Bomb },
  { kind: 'crlf-injection', weight: 7, build: buildCrlfInjection },
  { kind: 'nul-bytes', weight: 6, build: buildNulBytes },
  { kind: 'invalid-utf8', weight: 6, build: buildInvalidUtf8 },
  { kind: 'missing-headers', weight: 6, build: buildMissingHeaders },
  { kind: 'duplicate-headers', weight: 5, build: buildDuplicateHeaders },
  { kind: 'line-endings', weight: 5, build: buildLineEndings },
  { kind: 'garbage', weight: 3, build: buildGarbage },
  { kind: 'header-syntax', weight: 5, build: buildHeaderSyntax },
  { kind: 'hostile-body', weight: 1.5, build: buildHostileBody },
  { kind: 'encoded-word-bomb', weight: 2, build: buildEncodedWordBomb },
  { kind: 'hostile-address', weight: 4, build: buildHostileAddresses },
  { kind: 'bad-date', weight: 3, build: buildBadDate },
  { kind: 'hostile-message-id', weight: 3, build: buildMessageIdHostile },
  { kind: 'automatic', weight: 2, build: buildAutomatic },
  ...regressionInputs.map((r) => ({ ...r, weight: 0.1 })),
];

/**
 * `count` hostile messages for the seed: the first round has every kind once (so even a
 * small run covers them all), then kinds by weight. Lazily, since some are 1 MB or more.
 */
export function* hostileMessages(count: number, seed: number, ctx: HostileContext): Generator<HostileMessage> {
  const total = hostileKinds.reduce((sum, k) => sum + k.weight, 0);
  for (let seq = 0; seq < count; seq++) {
    // One PRNG per message, from the seed and the sequence number: message n is the same whatever came before.
    const g = new Gen(seededRandom((seed * 0x9e3779b1 + seq * 0x85ebca6b) >>> 0), seq, ctx);
    let entry = hostileKinds[seq];
    if (!entry) {
      let x = g.rnd() * total;
      entry = hostileKinds.find((k) => (x -= k.weight) < 0) ?? hostileKinds[0]!;
    }
    const built = entry.build(g);
    yield {
      seq,
      kind: entry.kind,
      variant: built.variant,
      raw: built.raw,
      messageId: built.messageId,
      reference: built.reference ?? null,
      ...(built.expectQuarantine ? { expectQuarantine: true } : {}),
    };
  }
}
