import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** What an outbound email says about where it came from. */
export interface Reference {
  kb: string;
  serverUrl: string;
  table: string | null;
  recordId: number | null;
  /** "rule:42", "workflow:renewal" or "test-send". */
  origin: string | null;
  sentAt: Date;
}

/** The short form carried in the subject: enough to find the record. */
export interface SubjectReference {
  /** First 4 bytes of SHA-256 of the table name, hex; resolve against known tables. */
  tableHash: string;
  recordId: number | null;
  sentAt: Date;
}

export type DecodeResult<T> = { ok: true; keyId: string; value: T } | { ok: false; reason: string };

/** Reference keys by id ("k1" → 32 bytes). */
export type RefKeys = ReadonlyMap<string, Buffer>;

const FULL_VERSION = 1;
const SUBJECT_VERSION = 2;

function keyNumber(keyId: string): number {
  const n = Number(keyId.slice(1));
  if (!/^k\d+$/.test(keyId) || n < 1 || n > 255) throw new Error(`reference key id ${keyId} is out of range (k1..k255)`);
  return n;
}

function subKey(master: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `mailctl ref ${purpose}`, 32));
}

export function tableHash(table: string): string {
  return createHash('sha256').update(table, 'utf8').digest().subarray(0, 4).toString('hex');
}

/**
 * The full reference, for the X-Mailctl-Ref header and the Message-ID:
 * version ‖ key number ‖ 12-byte nonce ‖ AES-256-GCM(JSON) ‖ 16-byte tag, base64url.
 * Version and key number are authenticated as associated data.
 */
export function sealReference(ref: Reference, keyId: string, key: Buffer): string {
  const header = Buffer.from([FULL_VERSION, keyNumber(keyId)]);
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', subKey(key, 'full'), nonce);
  cipher.setAAD(header);
  const payload = JSON.stringify({
    k: ref.kb,
    u: ref.serverUrl,
    t: ref.table,
    r: ref.recordId,
    o: ref.origin,
    s: Math.floor(ref.sentAt.getTime() / 1000),
  });
  const body = Buffer.concat([cipher.update(payload, 'utf8'), cipher.final()]);
  return Buffer.concat([header, nonce, body, cipher.getAuthTag()]).toString('base64url');
}

/** Opens a full reference; anything that does not authenticate is "no reference", with why. */
export function openReference(token: string, keys: RefKeys): DecodeResult<Reference> {
  const bytes = decodeBase64url(token);
  if (!bytes || bytes.length < 2 + 12 + 16 + 2) return { ok: false, reason: 'the reference is truncated or not base64url' };
  if (bytes[0] !== FULL_VERSION) return { ok: false, reason: `unknown reference format ${bytes[0]}` };
  const keyId = `k${bytes[1]}`;
  const key = keys.get(keyId);
  if (!key) return { ok: false, reason: `sealed with key ${keyId}, which this KB does not have (another KB's mail, or a forged reference)` };
  try {
    const decipher = createDecipheriv('aes-256-gcm', subKey(key, 'full'), bytes.subarray(2, 14));
    decipher.setAAD(bytes.subarray(0, 2));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    const json = Buffer.concat([decipher.update(bytes.subarray(14, bytes.length - 16)), decipher.final()]).toString('utf8');
    const p = JSON.parse(json) as { k: string; u: string; t: string | null; r: number | null; o: string | null; s: number };
    return { ok: true, keyId, value: { kb: p.k, serverUrl: p.u, table: p.t, recordId: p.r, origin: p.o, sentAt: new Date(p.s * 1000) } };
  } catch {
    return { ok: false, reason: 'the reference does not authenticate (altered, truncated or forged)' };
  }
}

/**
 * The subject token: one AES-256 block (version, table hash, record id, send time,
 * random salt) encrypted as a single-block permutation, then a 64-bit HMAC-SHA-256
 * tag over key number and block. 25 bytes → 34 characters, short enough for a
 * subject line, and any altered byte fails the tag.
 */
export function sealSubjectToken(ref: { table: string | null; recordId: number | null; sentAt: Date }, keyId: string, key: Buffer): string {
  const block = Buffer.alloc(16);
  block[0] = SUBJECT_VERSION;
  if (ref.table) Buffer.from(tableHash(ref.table), 'hex').copy(block, 1);
  block.writeUIntBE(ref.recordId ?? 0, 5, 6);
  block.writeUInt32BE(Math.floor(ref.sentAt.getTime() / 1000) >>> 0, 11);
  block[15] = randomBytes(1)[0]!;
  const cipher = createCipheriv('aes-256-ecb', subKey(key, 'subject-enc'), null).setAutoPadding(false);
  const encrypted = Buffer.concat([cipher.update(block), cipher.final()]);
  const head = Buffer.from([keyNumber(keyId)]);
  const tag = createHmac('sha256', subKey(key, 'subject-mac')).update(head).update(encrypted).digest().subarray(0, 8);
  return Buffer.concat([head, encrypted, tag]).toString('base64url');
}

export function openSubjectToken(token: string, keys: RefKeys): DecodeResult<SubjectReference> {
  const bytes = decodeBase64url(token);
  if (!bytes || bytes.length !== 25) return { ok: false, reason: 'the subject token is truncated or not base64url' };
  const keyId = `k${bytes[0]}`;
  const key = keys.get(keyId);
  if (!key) return { ok: false, reason: `sealed with key ${keyId}, which this KB does not have` };
  const expected = createHmac('sha256', subKey(key, 'subject-mac')).update(bytes.subarray(0, 17)).digest().subarray(0, 8);
  if (!timingSafeEqual(expected, bytes.subarray(17))) return { ok: false, reason: 'the subject token does not authenticate (altered or forged)' };
  const decipher = createDecipheriv('aes-256-ecb', subKey(key, 'subject-enc'), null).setAutoPadding(false);
  const block = Buffer.concat([decipher.update(bytes.subarray(1, 17)), decipher.final()]);
  if (block[0] !== SUBJECT_VERSION) return { ok: false, reason: 'the subject token has an unknown format' };
  const recordId = block.readUIntBE(5, 6);
  const hash = block.subarray(1, 5).toString('hex');
  return {
    ok: true,
    keyId,
    value: { tableHash: hash, recordId: recordId === 0 ? null : recordId, sentAt: new Date(block.readUInt32BE(11) * 1000) },
  };
}

function decodeBase64url(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  return Buffer.from(text, 'base64url');
}
