import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Sqlite from 'better-sqlite3';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { runCli } from '../helpers/run-cli.js';
import { runMain } from '../helpers/run-main.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';

/**
 * The fidelity runner: every case of test/fixtures/fidelity/<kind>/ delivered into a real
 * Dovecot (one mailbox per kind), one `mailctl daemon --once` over them all, and each field
 * the case's .expected.json names compared with what the database holds. The format and the
 * world the cases arrive in are in test/fixtures/fidelity/README.md.
 */

export const corpusRoot = fileURLToPath(new URL('../fixtures/fidelity/', import.meta.url));

/** The fields a case may name, in table order. */
export const fidelityFields = ['disposition', 'sender', 'senderHeader', 'title', 'note', 'recordCreated', 'attachments', 'linkedToOurs', 'updatedBy', 'ourDisposition'] as const;
export type FidelityField = (typeof fidelityFields)[number];

/** What the runner sends first for a case that answers our mail ("ours" in .expected.json). */
export interface OurMessageSpec {
  to: string;
  subject: string;
  body: string;
}

export interface FidelityCase {
  kind: string;
  name: string;
  /** The .eml as stored (placeholders not yet filled in). */
  raw: Buffer;
  expected: Partial<Record<FidelityField, unknown>>;
  /** Set when the .eml holds an {{OUR_…}} placeholder. */
  ours: OurMessageSpec | undefined;
}

export interface FieldResult {
  field: FidelityField;
  expected: unknown;
  actual: unknown;
  pass: boolean;
}

export interface CaseResult {
  kind: string;
  name: string;
  /** The inbound communication found for it, if any. */
  communicationId: number | null;
  fields: FieldResult[];
  pass: boolean;
}

export interface FidelityRun {
  cases: CaseResult[];
  /** Wall time of the whole run and of the `daemon --once` that took the corpus. */
  totalMs: number;
  daemonMs: number;
  /** What that `daemon --once` printed on standard error: why a case has no communication. */
  daemonErrors: string;
}

const defaultOurs: OurMessageSpec = { to: 'partner@example.test', subject: 'Rahmenvertrag Globex', body: 'Please review the attached draft.' };
const placeholder = /\{\{OUR_[A-Z_]+\}\}/;
const knownKeys = new Set<string>([...fidelityFields, 'ours']);

/** The table (and mailbox local part) of a kind: `auto-reply` → `auto_reply`. */
export function tableOf(kind: string): string {
  return kind.replace(/-/g, '_');
}

/** Every case under `root`, kinds and names in order; a malformed .expected.json throws, naming the file. */
export function loadCorpus(root = corpusRoot): FidelityCase[] {
  const cases: FidelityCase[] = [];
  for (const kind of readdirSync(root).sort()) {
    const dir = join(root, kind);
    if (!statSync(dir).isDirectory()) continue;
    if (!/^[a-z][a-z0-9-]*$/.test(kind)) throw new Error(`fidelity: the kind folder "${kind}" must be lower-case letters, digits and "-"`);
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.eml')).sort()) {
      const name = file.slice(0, -'.eml'.length);
      const jsonPath = join(dir, `${name}.expected.json`);
      if (!existsSync(jsonPath)) throw new Error(`fidelity: ${kind}/${file} has no ${name}.expected.json`);
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(readFileSync(jsonPath, 'utf8')) as Record<string, unknown>;
      } catch (error) {
        throw new Error(`fidelity: ${kind}/${name}.expected.json is not JSON: ${(error as Error).message}`);
      }
      const unknown = Object.keys(parsed).filter((k) => !knownKeys.has(k));
      if (unknown.length) throw new Error(`fidelity: ${kind}/${name}.expected.json has unknown field(s) ${unknown.join(', ')} (known: ${[...knownKeys].join(', ')})`);
      const raw = readFileSync(join(dir, file));
      const { ours: oursOverride, ...expected } = parsed;
      const usesOurs = placeholder.test(raw.toString('latin1'));
      cases.push({ kind, name, raw, expected: expected as FidelityCase['expected'], ours: usesOurs ? { ...defaultOurs, ...(oursOverride as Partial<OurMessageSpec> | undefined) } : undefined });
    }
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.expected.json'))) {
      if (!existsSync(join(dir, file.replace(/\.expected\.json$/, '.eml')))) throw new Error(`fidelity: ${kind}/${file} has no .eml beside it`);
    }
  }
  return cases;
}

/** What we sent for one case, as the placeholders need it. */
interface SentMessage {
  recordId: number;
  communicationId: number;
  raw: Buffer;
  headers: Map<string, string>;
}

/** Bare LF → CRLF, as an IMAP server serves a message (CRLF already there is kept). */
function crlf(raw: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x0a && (i === 0 || raw[i - 1] !== 0x0d)) out.push(0x0d);
    out.push(raw[i]!);
  }
  return Buffer.from(out);
}

/** The header block of a raw message (up to the first empty line) and its fields, unfolded, by lower-case name (first wins). */
function headerBlock(raw: Buffer): { block: string; fields: Map<string, string> } {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const block = end < 0 ? text : text.slice(0, end);
  const fields = new Map<string, string>();
  for (const line of block.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !fields.has(line.slice(0, colon).trim().toLowerCase())) fields.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { block, fields };
}

/** The case's bytes as delivered: placeholders filled in from what we sent, then CRLF. */
function delivered(c: FidelityCase, sent: SentMessage | undefined): Buffer {
  if (!c.ours) return crlf(c.raw);
  if (!sent) throw new Error(`fidelity: ${c.kind}/${c.name}: our message was not sent`);
  const values: Record<string, string> = {
    OUR_MESSAGE_ID: sent.headers.get('message-id') ?? '',
    OUR_REF: (sent.headers.get('x-mailctl-ref') ?? '').replace(/\s+/g, ''),
    OUR_SUBJECT: sent.headers.get('subject') ?? '',
    OUR_FROM: 'kb@acme.test',
    OUR_TO: c.ours.to,
    OUR_DATE: sent.headers.get('date') ?? '',
    OUR_HEADERS: headerBlock(sent.raw).block,
    OUR_MESSAGE: sent.raw.toString('latin1').replace(/(\r\n)+$/, ''),
  };
  // latin1 maps every byte to one code unit and back: 8-bit bytes of the case survive.
  const filled = c.raw.toString('latin1').replace(/\{\{(OUR_[A-Z_]+)\}\}/g, (all, name: string) => {
    if (!(name in values)) throw new Error(`fidelity: ${c.kind}/${c.name}: unknown placeholder ${all}`);
    return values[name]!;
  });
  return crlf(Buffer.from(filled, 'latin1'));
}

type Row = Record<string, unknown>;

/** Compares one field; `expected` is an exact value or {oneOf}, {not}, {contains, absent} (README). */
export function matches(expected: unknown, actual: unknown): boolean {
  if (expected !== null && typeof expected === 'object' && !Array.isArray(expected)) {
    const e = expected as { oneOf?: unknown[]; not?: unknown[]; contains?: string[]; absent?: string[] };
    if (e.oneOf) return e.oneOf.some((v) => matches(v, actual));
    if (e.not) return !e.not.some((v) => matches(v, actual));
    if (e.contains || e.absent) {
      if (typeof actual !== 'string') return false;
      return (e.contains ?? []).every((s) => actual.includes(s)) && !(e.absent ?? []).some((s) => actual.includes(s));
    }
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return false;
    const key = (v: unknown) => JSON.stringify(v);
    const a = actual.map(key).sort();
    return expected.map(key).sort().every((v, i) => v === a[i]);
  }
  return expected === actual;
}

/** Every string in a value lower-cased (for header names, which RFC 5322 compares without case). */
function lowerCased(value: unknown): unknown {
  if (typeof value === 'string') return value.toLowerCase();
  if (Array.isArray(value)) return value.map(lowerCased);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, lowerCased(v)]));
  return value;
}

export interface RunOptions {
  root?: string;
  /** Only these kinds (all when absent). */
  kinds?: string[];
  log?: (line: string) => void;
}

/**
 * Runs the corpus: Dovecot and an SMTP sink, a fresh MAILCTL_HOME, our messages sent first
 * (one `daemon --once`) for the cases that answer ours, every case delivered, one
 * `daemon --once`, then every field compared. Everything it started is stopped.
 */
export async function runFidelity(options: RunOptions = {}): Promise<FidelityRun> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const cases = loadCorpus(options.root).filter((c) => !options.kinds || options.kinds.includes(c.kind));
  const kinds = [...new Set(cases.map((c) => c.kind))];
  const password = 'fidelity-pass';
  const home = mkdtempSync(join(tmpdir(), 'mailctl-fidelity-'));
  const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
  const clock = { now: () => new Date() };
  let dovecot: Dovecot | undefined;
  let sink: SmtpSink | undefined;
  try {
    [dovecot, sink] = await Promise.all([startDovecot({ users: kinds.map((k) => ({ name: `${tableOf(k)}@acme.test`, password })) }), startSmtpSink()]);
    const cli = async (args: string[]) => {
      const r = await runMain([...args, '--json'], { env, clock });
      if (r.code !== 0) throw new Error(`fidelity setup: mailctl ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
      return JSON.parse(r.stdout || '{}') as Row;
    };
    await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    for (const kind of kinds) await cli(['tables', 'add', tableOf(kind)]);
    const tables = kinds.map(tableOf);
    await cli(['contacts', 'add', 'ann@example.test', '--name', 'Ann Example', '--can-create', ...tables]);
    await cli(['contacts', 'add', 'pat@acme.test', '--name', 'Pat Lee', '--can-create', ...tables]);
    await cli(['contacts', 'add', 'guest@acme.test', '--name', 'Email guest', '--guest']);
    await cli(['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'none', '--from', 'kb@acme.test']);
    // The password comes on standard input, which runMain does not pass: the real binary here.
    // Not verified now (half a second each): the daemon run below logs in to every mailbox.
    for (const kind of kinds) {
      const r = await runCli(['configure', 'inbound', tableOf(kind), '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none',
        '--auth', 'password', '--username', `${tableOf(kind)}@acme.test`, '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'guest',
        '--guest', 'guest@acme.test', '--notes', 'new-text', '--after', 'mark-read', '--no-verify', '--json'], { env, input: password });
      if (r.code !== 0) throw new Error(`fidelity setup: configure inbound ${tableOf(kind)} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    }

    log(`fidelity: set up in ${Date.now() - started} ms`);
    // Our own messages first, one record and one message per case that answers ours.
    const sent = new Map<FidelityCase, SentMessage>();
    const ourRecords = new Set<number>();
    const answering = cases.filter((c) => c.ours);
    if (answering.length) {
      const queued: Array<{ c: FidelityCase; recordId: number }> = [];
      for (const c of answering) {
        const record = (await cli(['records', 'add', '--table', tableOf(c.kind), '--title', c.ours!.subject, '--created-by', 'pat@acme.test'])).record as { id: number };
        ourRecords.add(record.id);
        await cli(['send', '--table', tableOf(c.kind), '--record', String(record.id), '--to', c.ours!.to, '--subject', c.ours!.subject, '--body', c.ours!.body]);
        queued.push({ c, recordId: record.id });
      }
      const r = await runCli(['daemon', '--once', '--json'], { env, timeoutMs: 120_000 });
      log(`fidelity: ${queued.length} of our messages sent at ${Date.now() - started} ms`);
      if (r.code !== 0) throw new Error(`fidelity: the daemon --once that sends our messages exited ${r.code}\n${r.stdout}\n${r.stderr}`);
      const db = new Sqlite(join(home, 'mailctl.db'), { readonly: true });
      try {
        for (const { c, recordId } of queued) {
          const row = db.prepare("SELECT id, message_id AS messageId FROM communications WHERE direction = 'outbound' AND record_id = ? ORDER BY id LIMIT 1").get(recordId) as { id: number; messageId: string } | undefined;
          const message = row && sink.messages.find((m) => headerBlock(m.raw).fields.get('message-id') === `<${row.messageId}>`);
          if (!row || !message) throw new Error(`fidelity: our message for ${c.kind}/${c.name} was not sent (record ${recordId})`);
          sent.set(c, { recordId, communicationId: row.id, raw: message.raw, headers: headerBlock(message.raw).fields });
        }
      } finally {
        db.close();
      }
    }

    // Every case into its kind's mailbox; a Message-ID repeated within a kind would be a duplicate.
    const hashes = new Map<string, FidelityCase>();
    for (const kind of kinds) {
      const ids = new Map<string, string>();
      for (const c of cases.filter((x) => x.kind === kind)) {
        const bytes = delivered(c, sent.get(c));
        const id = headerBlock(bytes).fields.get('message-id');
        if (id && ids.has(id)) throw new Error(`fidelity: ${kind}/${c.name} repeats the Message-ID ${id} of ${kind}/${ids.get(id)}`);
        if (id) ids.set(id, c.name);
        const hash = createHash('sha256').update(bytes).digest('hex');
        if (hashes.has(hash)) throw new Error(`fidelity: ${kind}/${c.name} has the same bytes as ${hashes.get(hash)!.kind}/${hashes.get(hash)!.name}`);
        hashes.set(hash, c);
        dovecot.deliver(`${tableOf(kind)}@acme.test`, bytes);
      }
    }
    log(`fidelity: ${cases.length} cases in ${kinds.length} kinds delivered (${sent.size} answer our mail)`);

    const daemonStarted = Date.now();
    const r = await runCli(['daemon', '--once', '--json'], { env, timeoutMs: 120_000 });
    const daemonMs = Date.now() - daemonStarted;
    // Exit 1 is a poll with failures: those cases show as "no communication" below.
    if (r.code !== 0 && r.code !== 1) throw new Error(`fidelity: daemon --once exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    log(`fidelity: daemon --once took ${daemonMs} ms`);

    const db = new Sqlite(join(home, 'mailctl.db'), { readonly: true });
    try {
      const columns = new Set((db.prepare('PRAGMA table_info(communications)').all() as Array<{ name: string }>).map((c) => c.name));
      const byHash = new Map<string, Row>();
      for (const row of db.prepare("SELECT * FROM communications WHERE direction = 'inbound' AND disposition != 'duplicate' ORDER BY id").all() as Row[]) {
        if (typeof row.raw_hash === 'string' && !byHash.has(row.raw_hash)) byHash.set(row.raw_hash, row);
      }
      const results: CaseResult[] = [];
      for (const [hash, c] of hashes) {
        const row = byHash.get(hash);
        const actual = row ? observe(db, row, columns, ourRecords, sent.get(c)) : undefined;
        const fields = fidelityFields.filter((f) => f in c.expected).map((field): FieldResult => {
          const value = actual ? actual[field] : '(no communication)';
          // A header name is the same header in any case ("Reply-To", "reply-to").
          const fold = field === 'senderHeader' ? lowerCased : (v: unknown) => v;
          return { field, expected: c.expected[field], actual: value, pass: actual !== undefined && matches(fold(c.expected[field]), fold(value)) };
        });
        results.push({ kind: c.kind, name: c.name, communicationId: row ? Number(row.id) : null, fields, pass: row !== undefined && fields.every((f) => f.pass) });
      }
      results.sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind.localeCompare(b.kind)));
      return { cases: results, totalMs: Date.now() - started, daemonMs, daemonErrors: r.stderr.trim().slice(0, 4000) };
    } finally {
      db.close();
    }
  } finally {
    await sink?.close();
    await dovecot?.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

/** Every field's value for one inbound communication, read from the database. */
function observe(db: Sqlite.Database, row: Row, columns: Set<string>, ourRecords: Set<number>, sent: SentMessage | undefined): Record<FidelityField, unknown> {
  const recordId = row.record_id === null ? null : Number(row.record_id);
  const record = recordId === null ? undefined : (db.prepare('SELECT * FROM records WHERE id = ?').get(recordId) as Row | undefined);
  const notes = (db.prepare('SELECT body FROM record_notes WHERE communication_id = ? ORDER BY id').all(row.id) as Array<{ body: string }>).map((n) => n.body);
  const firstInbound = recordId === null ? undefined : (db.prepare("SELECT MIN(id) AS id FROM communications WHERE record_id = ? AND direction = 'inbound'").get(recordId) as { id: number } | undefined)?.id;
  const attachments = db.prepare('SELECT filename, content_type AS contentType FROM communication_attachments WHERE communication_id = ? ORDER BY position').all(row.id);
  const ourRecord = sent ? (db.prepare('SELECT updated_by FROM records WHERE id = ?').get(sent.recordId) as Row | undefined) : undefined;
  const ours = sent ? (db.prepare('SELECT disposition FROM communications WHERE id = ?').get(sent.communicationId) as { disposition: string } | undefined) : undefined;
  return {
    disposition: row.disposition,
    sender: row.from_addr ?? null,
    // Issue 16 item 5 records which header the sender came from; before that there is no column.
    senderHeader: columns.has('sender_header') ? (row.sender_header ?? null) : '(no sender_header column)',
    title: record ? record.title : null,
    note: notes.length === 0 ? null : notes.join('\n---\n'),
    recordCreated: recordId !== null && !ourRecords.has(recordId) && firstInbound === Number(row.id),
    attachments,
    linkedToOurs: sent !== undefined && recordId === sent.recordId,
    // For mail that answers ours, what matters is whether it changed our record (linked or not).
    updatedBy: sent ? ourRecord?.updated_by ?? null : record ? record.updated_by : null,
    ourDisposition: ours ? ours.disposition : null,
  };
}

/** One line per mismatch of a case ("field: expected …, got …"), or "no communication". */
export function mismatches(result: CaseResult): string[] {
  const lines = result.communicationId === null ? ['no communication was recorded for it (not taken, or failed)'] : [];
  for (const f of result.fields) if (!f.pass && result.communicationId !== null) lines.push(`${f.field}: expected ${JSON.stringify(f.expected)}, got ${JSON.stringify(f.actual)}`);
  return lines;
}

export interface RateRow {
  name: string;
  cases?: number;
  casesPassed?: number;
  checked: number;
  passed: number;
}

/** Pass counts per field and per kind (a field counts once per case that names it). */
export function passRates(run: FidelityRun): { byField: RateRow[]; byKind: RateRow[]; total: RateRow } {
  const byField = fidelityFields.map((name): RateRow => {
    const all = run.cases.flatMap((c) => c.fields.filter((f) => f.field === name));
    return { name, checked: all.length, passed: all.filter((f) => f.pass).length };
  }).filter((r) => r.checked > 0);
  const kinds = [...new Set(run.cases.map((c) => c.kind))];
  const byKind = kinds.map((name): RateRow => {
    const cs = run.cases.filter((c) => c.kind === name);
    const fs = cs.flatMap((c) => c.fields);
    return { name, cases: cs.length, casesPassed: cs.filter((c) => c.pass).length, checked: fs.length, passed: fs.filter((f) => f.pass).length };
  });
  const fs = run.cases.flatMap((c) => c.fields);
  const total = { name: 'all', cases: run.cases.length, casesPassed: run.cases.filter((c) => c.pass).length, checked: fs.length, passed: fs.filter((f) => f.pass).length };
  return { byField, byKind, total };
}

const pct = (passed: number, of: number) => (of === 0 ? '–' : `${((100 * passed) / of).toFixed(passed === of ? 0 : 1)} %`);

/** The Markdown tables of `npm run fidelity` (for the README). */
export function formatRates(run: FidelityRun): string {
  const { byField, byKind, total } = passRates(run);
  const lines = ['| kind | cases | cases passed | fields passed | rate |', '|---|---|---|---|---|'];
  for (const r of [...byKind, total]) lines.push(`| ${r.name === 'all' ? '**all**' : r.name} | ${r.cases} | ${r.casesPassed} | ${r.passed} / ${r.checked} | ${pct(r.passed, r.checked)} |`);
  lines.push('', '| field | checked | passed | rate |', '|---|---|---|---|');
  for (const r of byField) lines.push(`| ${r.name} | ${r.checked} | ${r.passed} | ${pct(r.passed, r.checked)} |`);
  lines.push('', `${run.cases.length} cases, daemon --once ${(run.daemonMs / 1000).toFixed(1)} s, whole run ${(run.totalMs / 1000).toFixed(1)} s`);
  return lines.join('\n');
}
