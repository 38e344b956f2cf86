import { createHash } from 'node:crypto';
import { isPlainMailbox, mailboxOf, noticesPerHour } from '../../src/inbound/reject-notice.js';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isEmailAddress } from '../../src/config/globals.js';
import { loadRefKeys } from '../../src/refs/ref-keys.js';
import { FileSecretStore } from '../../src/secrets/file-secret-store.js';
import { FsMessageStore } from '../../src/store/fs-message-store.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { hostileKinds, hostileMessages, type HostileMessage } from '../helpers/hostile-messages.js';
import { bySize, reliabilityTier } from '../helpers/reliability-tier.js';
import { runCli } from '../helpers/run-cli.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { useTempDirs } from '../helpers/temp-dir.js';

// Issue #8, point 8: thousands of malformed and hostile emails through a real Dovecot into
// `mailctl daemon --once`. MAILCTL_HOSTILE_SEED replays another seed.
const count = bySize(2000, 200);
const seed = Number(process.env.MAILCTL_HOSTILE_SEED ?? 20261127);
const daemonTimeoutMs = bySize(900_000, 120_000);

type Meta = Omit<HostileMessage, 'raw'> & { mailbox: 'contracts' | 'support'; bytes: number; file: string; sha256: string; servedAsIs: boolean };

interface Communication {
  id: number;
  direction: 'inbound' | 'outbound';
  account: string | null;
  recordId: number | null;
  mailboxKey: string | null;
  messageId: string | null;
  from: string | null;
  subject: string | null;
  disposition: string;
  reason: string | null;
  rawHash: string | null;
}

const dispositions = new Set(['record-updated', 'record-created', 'guest-record-created', 'ignored', 'rejected', 'auto-reply', 'bounce', 'list', 'quarantined']);

describe(`${count} hostile emails (seed ${seed}, ${reliabilityTier} tier) through a real Dovecot into mailctl daemon --once`, () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  let sink: SmtpSink;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'contracts@acme.test', password: 'c-pass' }, { name: 'support@acme.test', password: 's-pass' }] });
    sink = await startSmtpSink();
  });
  afterAll(async () => {
    await sink?.close();
    await dovecot?.stop();
  });

  it('never crashes or hangs, makes exactly one communication per message, and no forged reference touches a record', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const cli = async (args: string[], input?: string, timeoutMs = 60_000) => {
      const r = await runCli(args, { env, timeoutMs, ...(input !== undefined ? { input } : {}) });
      expect(r.code, `mailctl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
      return r;
    };
    const json = async (args: string[], timeoutMs?: number) => JSON.parse((await cli([...args, '--json'], undefined, timeoutMs)).stdout);

    // A production KB: contracts creates records (known contacts, and strangers under the
    // guest contact); support rejects strangers, who get a notice through the outbound queue.
    await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await cli(['tables', 'add', 'contracts']);
    await cli(['tables', 'add', 'support']);
    await cli(['contacts', 'add', 'pat@acme.test', '--name', 'Pat Lee', '--can-create', 'contracts']);
    await cli(['contacts', 'add', 'guest@acme.test', '--name', 'Email guest', '--guest']);
    const records: Array<{ id: number; title: string }> = [];
    for (const title of ['MSA renewal', 'NDA Initech', 'Lease 4th floor', 'Insurance 2027']) {
      records.push((await json(['records', 'add', '--table', 'contracts', '--title', title, '--created-by', 'pat@acme.test'])).record);
    }
    await cli(['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'none', '--from', 'records@acme.test']);
    const imap = ['--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none', '--auth', 'password', '--secret-stdin', '--folder', 'INBOX', '--notes', 'new-text', '--after', 'mark-read'];
    await cli(['configure', 'inbound', 'contracts', ...imap, '--username', 'contracts@acme.test', '--create-records', '--unknown-sender', 'guest', '--guest', 'guest@acme.test'], 'c-pass');
    await cli(['configure', 'inbound', 'support', ...imap, '--username', 'support@acme.test', '--no-create-records', '--unknown-sender', 'reject'], 's-pass');

    // The KB's own reference key, to seal genuine references (as our outbound mail would).
    const store = new FileSecretStore({ path: join(env.MAILCTL_HOME, 'secrets.enc'), keyPath: join(env.MAILCTL_HOME, 'master.key') });
    const keys = await loadRefKeys(store, ['k1']);

    // Deliver. Each message's maildir file name is noted, so Dovecot's UID list maps each
    // communication (by its mailbox key) back to the message it came from.
    const users = { contracts: 'contracts@acme.test', support: 'support@acme.test' } as const;
    const known = { contracts: new Set<string>(), support: new Set<string>() };
    const delivered: Meta[] = [];
    let totalBytes = 0;
    const deliverStart = Date.now();
    for (const m of hostileMessages(count, seed, { kb: 'acme-prod', serverUrl: 'https://records.acme.test', table: 'contracts', records, keys, activeKeyId: 'k1' })) {
      const mailbox = m.reference || m.seq % 4 !== 3 ? 'contracts' : 'support';
      dovecot.deliver(users[mailbox], m.raw);
      const fresh = readdirSync(join(dovecot.maildir(users[mailbox]), 'new')).filter((f) => !known[mailbox].has(f));
      expect(fresh).toHaveLength(1);
      known[mailbox].add(fresh[0]!);
      const { raw, ...meta } = m;
      delivered.push({ ...meta, mailbox, bytes: raw.length, file: fresh[0]!, sha256: createHash('sha256').update(raw).digest('hex'), servedAsIs: !raw.includes(0) && !/(^|[^\r])\n|\r(?!\n)/.test(raw.toString('latin1')) });
      totalBytes += raw.length;
    }
    const deliverMs = Date.now() - deliverStart;

    // One daemon cycle takes them all.
    const daemonStart = Date.now();
    const run = await runCli(['daemon', '--once', '--json'], { env, timeoutMs: daemonTimeoutMs });
    const daemonMs = Date.now() - daemonStart;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/); // no stack trace
    const cycle = JSON.parse(run.stdout);
    for (const mailbox of ['contracts', 'support'] as const) {
      const sent = delivered.filter((m) => m.mailbox === mailbox).length;
      const account = cycle.accounts.find((a: { table: string }) => a.table === mailbox);
      expect(account, JSON.stringify(cycle.accounts)).toMatchObject({ status: 'ok', poll: { listed: sent, processed: sent, alreadyTaken: 0 } });
    }

    // Every message: exactly one inbound communication, found through its mailbox key.
    const comms = (await json(['comms', 'list', '--limit', String(count * 10)])).communications as Communication[];
    const inbound = comms.filter((c) => c.direction === 'inbound');
    expect(inbound).toHaveLength(count);
    const byKey = new Map(inbound.map((c) => [`${c.account}|${c.mailboxKey}`, c]));
    expect(byKey.size).toBe(count);
    const fileOf = (mailbox: 'contracts' | 'support') => {
      const lines = readFileSync(join(dovecot.maildir(users[mailbox]), 'dovecot-uidlist'), 'utf8').split('\n');
      const uidValidity = /\bV(\d+)/.exec(lines[0]!)![1];
      const map = new Map<string, string>();
      for (const line of lines.slice(1)) {
        const match = /^(\d+)\b[^:]*:(\S+)$/.exec(line.trim());
        if (match) map.set(match[2]!.replace(/:2,.*$/, ''), `imap:${uidValidity}:${match[1]}`);
      }
      return map;
    };
    const keysOf = { contracts: fileOf('contracts'), support: fileOf('support') };
    const commOf = new Map<number, Communication>();
    for (const m of delivered) {
      const key = keysOf[m.mailbox].get(m.file);
      expect(key, `message #${m.seq} (${m.kind} ${m.variant}) has no UID`).toBeDefined();
      const comm = byKey.get(`${m.mailbox}|${key}`);
      expect(comm, `message #${m.seq} (${m.kind} ${m.variant}) has no communication`).toBeDefined();
      commOf.set(m.seq, comm!);
    }
    expect(new Set([...commOf.values()].map((c) => c.id)).size).toBe(count);

    // Long values (a 998-character subject, a reason listing 200 refused references) shortened, so the
    // failure's own "expected … to …" stays readable.
    const short = (_key: string, value: unknown) => (typeof value === 'string' && value.length > 160 ? `${value.slice(0, 100)}…(${value.length} chars)…${value.slice(-40)}` : value);
    const describeMessage = (m: Meta) => `#${m.seq} ${m.kind} ${m.variant} (seed ${seed}, ${m.bytes} bytes): ${JSON.stringify(commOf.get(m.seq), short)}`;
    for (const m of delivered) {
      const comm = commOf.get(m.seq)!;
      expect(dispositions.has(comm.disposition), describeMessage(m)).toBe(true);
      // Its exact bytes are in the message store, quarantined or not (read back and verified below):
      // the bytes as delivered, unless IMAP could not serve them as they are (Dovecot sends a NUL
      // as 0x80 and a bare LF as CRLF).
      if (m.servedAsIs) expect(comm.rawHash, describeMessage(m)).toBe(m.sha256);
      expect(comm.rawHash, describeMessage(m)).toMatch(/^[0-9a-f]{64}$/);
      if (comm.disposition === 'quarantined') {
        expect(comm.reason, describeMessage(m)).toMatch(/^the message could not be parsed: /);
      } else if (typeof m.messageId === 'string') {
        expect(comm.messageId, describeMessage(m)).toBe(m.messageId);
      } else if (m.messageId === null) {
        expect(comm.messageId, describeMessage(m)).toBeNull();
      }
      if (m.expectQuarantine) expect(comm.disposition, describeMessage(m)).toBe('quarantined');
      // The stored subject is one bounded value, whatever the message said.
      expect((comm.subject ?? '').length, describeMessage(m)).toBeLessThanOrEqual(998);
    }

    expect(delivered.filter((m) => m.servedAsIs).length).toBeGreaterThan(count / 2);
    // And the store gives those bytes back (read through the hash check).
    const messageStore = new FsMessageStore(join(env.MAILCTL_HOME, 'messages'));
    for (const m of delivered) {
      const back = createHash('sha256');
      for await (const chunk of await messageStore.open(commOf.get(m.seq)!.rawHash!)) back.update(chunk as Buffer);
      expect(back.digest('hex'), describeMessage(m)).toBe(commOf.get(m.seq)!.rawHash);
    }

    // References: the genuine ones update their record; no forged one updates anything.
    const preExisting = new Set(records.map((r) => r.id));
    const genuine = delivered.filter((m) => m.reference?.kind === 'genuine');
    const forged = delivered.filter((m) => m.reference?.kind === 'forged');
    expect(genuine.length).toBeGreaterThan(0);
    expect(forged.length).toBeGreaterThan(bySize(100, 10));
    for (const m of genuine) expect(commOf.get(m.seq), describeMessage(m)).toMatchObject({ disposition: 'record-updated', recordId: m.reference!.recordId });
    for (const m of forged) {
      const comm = commOf.get(m.seq)!;
      expect(comm.disposition, describeMessage(m)).not.toBe('record-updated');
      expect(preExisting.has(comm.recordId ?? -1), describeMessage(m)).toBe(false);
      // The refusal is in the reason — unless the "token" was not even in our format (not
      // base64url inside a Message-ID, In-Reply-To or References), so never a candidate.
      if (!/^(in-reply-to|references|message-id)\/not-base64/.test(m.reference!.how)) expect(comm.reason, describeMessage(m)).toMatch(/refused reference: /);
    }
    const seqOfComm = new Map([...commOf].map(([seq, c]) => [c.id, seq]));
    const bySeq = new Map(delivered.map((m) => [m.seq, m]));
    let genuineNotes = 0;
    for (const record of records) {
      const shown = await json(['records', 'show', String(record.id)]);
      const expected = genuine.filter((m) => m.reference!.recordId === record.id);
      expect(shown.notes, `notes of record ${record.id}`).toHaveLength(expected.length);
      for (const note of shown.notes as Array<{ communicationId: number; author: string; body: string }>) {
        const from = bySeq.get(seqOfComm.get(note.communicationId) ?? -1);
        expect(from?.reference, `note ${JSON.stringify(note).slice(0, 300)}`).toMatchObject({ kind: 'genuine', recordId: record.id });
        expect(note.body).toContain(`hostile message #${from!.seq}`);
        expect(note.body).not.toContain('quoted history'); // new text only
        genuineNotes++;
      }
      if (expected.length > 0) expect(shown.record.updatedBy).toMatch(/^partner\d+@partner\.test$/);
      else expect(shown.record.updatedBy).toBe('pat@acme.test');
    }
    expect(genuineNotes).toBe(genuine.length);

    // CRLF injection: the subject is stored as the one value it decodes to (a line break
    // in it included), and never becomes a header: the notices to rejected senders go
    // out to the sender only, with a subject of our own (the injected text is not in it).
    const injected = delivered.filter((m) => m.kind === 'crlf-injection');
    expect(injected.length).toBeGreaterThan(0);
    for (const m of injected) expect(commOf.get(m.seq)!.from, describeMessage(m)).toBe(`sender${m.seq}@outside.test`);
    const outboundStart = Date.now();
    let rounds = 0;
    for (;;) {
      const again = await json(['daemon', '--once'], daemonTimeoutMs);
      rounds++;
      if (!again.outbound || again.outbound.claimed === 0 || rounds > 50) break;
    }
    const outboundMs = Date.now() - outboundStart;
    const rejected = delivered.filter((m) => commOf.get(m.seq)!.disposition === 'rejected' && commOf.get(m.seq)!.from);
    expect(rejected.length).toBeGreaterThan(0);
    // One notice per rejected mailbox mail can go to (at most one per reject_notice_interval;
    // tags and case removed), 30 an hour at most in all, each tried (sent, or refused by the
    // server); none left sending.
    const queue = (await json(['queue', 'list'])).counts as Record<string, number>;
    const noticeable = new Set(rejected.map((m) => commOf.get(m.seq)!.from!).filter((a) => isEmailAddress(a) && isPlainMailbox(a)).map(mailboxOf));
    expect(Object.values(queue).reduce((a, b) => a + b, 0), JSON.stringify(queue)).toBe(Math.min(noticeable.size, noticesPerHour));
    expect(queue.sending ?? 0).toBe(0);
    expect(queue.queued ?? 0).toBe(0);
    expect(queue.sent, JSON.stringify(queue)).toBe(sink.messages.length);
    const senders = new Set(rejected.map((m) => commOf.get(m.seq)!.from!));
    let injectedNotices = 0;
    let largestNotice = 0;
    for (const received of sink.messages) {
      expect(received.to.length).toBe(1);
      expect(senders.has(received.to[0]!), `a notice went to ${received.to[0]}`).toBe(true);
      const head = received.raw.toString('latin1').split(/\r\n\r\n/)[0]!;
      expect(head).not.toMatch(/^(Bcc|X-Injected):/im);
      expect(head.match(/^Subject:/gim)).toHaveLength(1);
      // A notice is short whatever the subject it answers (no 1 MB echo: backscatter).
      expect(received.raw.length, head.slice(0, 300)).toBeLessThan(8 * 1024);
      largestNotice = Math.max(largestNotice, received.raw.length);
      if (/victim|Injected/.test(head)) injectedNotices++;
    }
    expect(sink.messages.length, `queue: ${JSON.stringify(queue)}`).toBeGreaterThan(0);
    expect(injectedNotices).toBe(0);

    // Nothing is left behind or taken twice: every message was marked read after its
    // commit, and a full sweep over the whole folder recognises every one of them.
    const sweep = await json(['daemon', '--once', '--sweep'], daemonTimeoutMs);
    for (const mailbox of ['contracts', 'support'] as const) {
      const sent = delivered.filter((m) => m.mailbox === mailbox).length;
      expect(sweep.accounts.find((a: { table: string }) => a.table === mailbox)).toMatchObject({ status: 'ok', swept: true, poll: { listed: sent, processed: 0, alreadyTaken: sent } });
    }
    expect(((await json(['comms', 'list', '--limit', String(count * 10)])).communications as Communication[]).filter((c) => c.direction === 'inbound')).toHaveLength(count);

    // What was run, so a pass is not vacuous.
    const tally = (pick: (m: Meta) => string) => Object.fromEntries([...delivered.reduce((acc, m) => acc.set(pick(m), (acc.get(pick(m)) ?? 0) + 1), new Map<string, number>())].sort());
    const kindsSeen = new Set(delivered.map((m) => m.kind));
    for (const k of hostileKinds) expect(kindsSeen.has(k.kind), `kind ${k.kind} was generated`).toBe(true);
    console.log([
      `hostile inbound, ${reliabilityTier} tier, seed ${seed}: ${count} messages, ${(totalBytes / 1048576).toFixed(1)} MB, ${hostileKinds.length} kinds`,
      `  delivered in ${(deliverMs / 1000).toFixed(1)} s; daemon --once took them in ${(daemonMs / 1000).toFixed(1)} s; ${rounds} more cycle(s) sent ${sink.messages.length} notices in ${(outboundMs / 1000).toFixed(1)} s`,
      `  by kind: ${JSON.stringify(tally((m) => m.kind))}`,
      `  dispositions: ${JSON.stringify(tally((m) => commOf.get(m.seq)!.disposition))}`,
      `  references: ${genuine.length} genuine (${genuineNotes} notes), ${forged.length} forged (${JSON.stringify(tally((m) => (m.reference?.kind === 'forged' ? m.reference.how.split('/')[0]! : '-')))})`,
    ].join('\n'));
  }, bySize(1_800_000, 300_000));
});
