import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRefKeys } from '../../src/refs/ref-keys.js';
import { stampReference } from '../../src/refs/stamp-reference.js';
import { FileSecretStore } from '../../src/secrets/file-secret-store.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { runCli, runCliBytes } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { ingestAt } from '../store/store-fixture.js';
import { hostileAttachments, messageWithAttachments, type TestAttachment } from './comms-messages.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

interface Comm { id: number; messageId: string | null; disposition: string; rawHash: string | null; recordId: number | null; subject: string | null; reason: string | null }

/**
 * The commands that open a stored communication (show, --headers, raw, attachment, records
 * show, headers decode --comm, list filters), on mail a real Dovecot served to
 * `mailctl daemon --once`.
 */
describe('comms show / raw / attachment, records show, headers decode --comm, comms list filters (real Dovecot)', () => {
  let dovecot: Dovecot;
  let home: string;
  let work: string;
  let env: Record<string, string>;
  let hostile: Buffer;
  let attachments: TestAttachment[];
  let served: Map<string, Buffer>;
  let comms: Comm[];
  let recordId: number;
  const byMessageId = (id: string) => comms.find((c) => c.messageId === id)!;
  const cli = (args: string[]) => runCli(args, { env });
  const json = async (args: string[], expectCode = 0) => {
    const r = await cli([...args, '--json']);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(expectCode);
    return JSON.parse(r.stdout);
  };

  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'contracts@acme.test', password: 'c-pass' }] });
    home = mkdtempSync(join(tmpdir(), 'mailctl-comms-'));
    work = mkdtempSync(join(tmpdir(), 'mailctl-comms-out-'));
    env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await cli(['tables', 'add', 'contracts']);
    await cli(['contacts', 'add', 'pat@acme.test', '--name', 'Pat Lee', '--can-create', 'contracts']);
    recordId = (await json(['records', 'add', '--table', 'contracts', '--title', 'MSA renewal', '--created-by', 'pat@acme.test'])).record.id;
    const configured = await runCli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none',
      '--auth', 'password', '--username', 'contracts@acme.test', '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore',
      '--notes', 'new-text', '--after', 'mark-read'], { env, input: 'c-pass' });
    expect(configured.code, configured.stderr).toBe(0);

    attachments = hostileAttachments();
    hostile = messageWithAttachments({
      from: 'Pat Lee <pat@acme.test>', cc: 'legal@acme.test, Sam <sam@acme.test>', subject: 'Signed contract', messageId: 'hostile-1@acme.test',
      headers: ['X-Evil: \u001b[2J\u001b]0;pwned\u0007 tail'],
      body: 'Please find the contract.\r\nvisible \u001b[8mhidden\u001b[0m \u001b]0;pwned\u0007 end', attachments,
    });
    dovecot.deliver('contracts@acme.test', hostile);
    const store = new FileSecretStore({ path: join(home, 'secrets.enc'), keyPath: join(home, 'master.key') });
    const key = (await loadRefKeys(store, ['k1'])).get('k1')!;
    const stamp = stampReference({ kb: 'acme-prod', serverUrl: 'https://records.acme.test', table: 'contracts', recordId, origin: 'rule:7', sentAt: new Date() }, 'MSA renewal', 'k1', key);
    dovecot.deliver('contracts@acme.test', messageWithAttachments({
      from: 'lee@partner.test', subject: `RE: ${stamp.subject}`, messageId: 'reply-1@partner.test', headers: [`X-Mailctl-Ref: ${stamp.header}`],
      body: 'Agreed, countersigned copy attached.', attachments: [{ param: 'filename="countersigned.pdf"', name: 'countersigned.pdf', type: 'application/pdf', bytes: Buffer.from('%PDF-1.4 countersigned') }],
    }));
    dovecot.deliver('contracts@acme.test', `From: a@b.test\r\nSubject: ${'x'.repeat(3_000_000)}\r\nMessage-ID: <quarantine-1@b.test>\r\n\r\nbody\r\n`);
    const run = await runCli(['daemon', '--once', '--json'], { env, timeoutMs: 60_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).accounts[0].poll).toMatchObject({ processed: 3 });
    comms = (await json(['comms', 'list'])).communications;

    // What the IMAP server serves for each message, to compare `comms raw` with.
    served = new Map();
    const client = new ImapFlow({ host: '127.0.0.1', port: dovecot.imapPort, secure: false, auth: { user: 'contracts@acme.test', pass: 'c-pass' }, logger: false });
    await client.connect();
    const lock = await client.getMailboxLock('INBOX');
    try {
      for await (const message of client.fetch('1:*', { source: true, envelope: true })) served.set(message.envelope?.messageId?.replace(/[<>]/g, '') ?? '', message.source!);
    } finally {
      lock.release();
      await client.logout();
    }
  }, 120_000);

  afterAll(async () => {
    await dovecot?.stop();
    for (const dir of [home, work]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('comms show: who, when, cc, disposition, record, text and the numbered attachments; mail cannot drive the terminal; --json has everything', async () => {
    const a = byMessageId('hostile-1@acme.test');
    expect(a.disposition).toBe('record-created');
    const shown = await cli(['comms', 'show', String(a.id)]);
    expect(shown.code, shown.stderr).toBe(0);
    const text = shown.stdout;
    expect(text).toContain(`Communication ${a.id}`);
    expect(text).toMatch(/account\s+contracts/);
    expect(text).toMatch(/date\s+Fri, 27 Nov 2026 10:00:00 \+0000; taken \d{4}-/);
    expect(text).toMatch(/from\s+pat@acme\.test/);
    expect(text).toMatch(/cc\s+legal@acme\.test, sam@acme\.test/);
    expect(text).toMatch(/subject\s+Signed contract/);
    expect(text).toMatch(/disposition\s+record-created: no reference; pat@acme\.test is a contact/);
    expect(text).toMatch(new RegExp(`record\\s+#${a.recordId} Signed contract \\(contracts\\)`));
    expect(text).toMatch(/reference\s+none/);
    expect(text).toContain('Please find the contract.');
    // The body's ESC sequences (conceal, a window title) are shown as pictures, not obeyed.
    expect(text).not.toContain('\u001b');
    expect(text).not.toContain('\u0007');
    expect(text).toContain('visible ␛[8mhidden␛[0m ␛]0;pwned␇ end');
    // Attachments 1..N: name, type, size for people, inline marked.
    expect(text).toMatch(/Attachments \(6\):/);
    expect(text).toMatch(/1\s+contract\.pdf\s+application\/pdf\s+39 KB/);
    expect(text).toMatch(/2\s+logo\.png\s+image\/png\s+2\.9 KB\s+inline/);
    expect(text).toMatch(/3\s+\.\.\/\.\.\/etc\/passwd\s+text\/plain\s+31 bytes/);
    expect(text).toMatch(/4\s+evil␛\[31m<U\+202E>fdp\.exe\s+application\/octet-stream/); // the override shown, not obeyed
    expect(text).not.toContain('\u202e');

    const data = await json(['comms', 'show', String(a.id)]);
    expect(data.communication).toMatchObject({ id: a.id, direction: 'inbound', account: 'contracts', from: 'pat@acme.test', cc: 'legal@acme.test, sam@acme.test', subject: 'Signed contract', disposition: 'record-created' });
    expect(data.record).toMatchObject({ id: a.recordId, title: 'Signed contract' });
    expect(data.content.text).toContain('\u001b[8mhidden'); // exact in JSON
    expect(data.content.headers).toContain('X-Evil: \u001b[2J');
    expect(data.content.truncated).toBe(false);
    expect(data.attachments.map((x: { position: number; filename: string; contentType: string; size: number; inline: boolean; sha256: string }) => [x.position, x.filename, x.contentType, x.size, x.inline, x.sha256]))
      .toEqual(attachments.map((x, i) => [i + 1, x.name, x.type, x.bytes.length, Boolean(x.inline), sha256(x.bytes)]));
    expect(data.reference).toEqual({ found: false, rejected: [] });

    expect((await cli(['comms', 'show', '999999'])).code).toBe(2);
    expect((await cli(['comms', 'show', 'abc'])).code).toBe(2);
  });

  it('comms show --headers prints the header block as received, with control characters as pictures; the reference of a reply is decoded', async () => {
    const a = byMessageId('hostile-1@acme.test');
    const headers = await cli(['comms', 'show', String(a.id), '--headers']);
    expect(headers.code, headers.stderr).toBe(0);
    const lines = headers.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('From: Pat Lee <pat@acme.test>');
    expect(lines).toContain('X-Evil: ␛[2J␛]0;pwned␇ tail');
    expect(lines).toContain('Message-ID: <hostile-1@acme.test>');
    expect(lines.at(-1)).toMatch(/^Content-Type: multipart\/mixed; boundary=/);
    expect(headers.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(headers.stdout).not.toContain('Please find'); // the header block only
    expect((await json(['comms', 'show', String(a.id), '--headers'])).headers).toBe(hostile.toString('utf8').slice(0, hostile.indexOf('\r\n\r\n') + 4));

    const reply = byMessageId('reply-1@partner.test');
    expect(reply).toMatchObject({ disposition: 'record-updated', recordId });
    const shown = await cli(['comms', 'show', String(reply.id)]);
    expect(shown.stdout).toMatch(new RegExp(`reference\\s+KB acme-prod, contracts record ${recordId}, rule:7, sent \\S+ \\(in the header, key k1\\)`));
    expect((await json(['comms', 'show', String(reply.id)])).reference).toMatchObject({ found: true, reference: { kb: 'acme-prod', table: 'contracts', recordId, origin: 'rule:7', source: 'header' } });
  });

  it('headers decode --comm ID reads the stored header block; a file and --comm together, or neither, is a usage error', async () => {
    const reply = byMessageId('reply-1@partner.test');
    const decoded = await json(['headers', 'decode', '--comm', String(reply.id)]);
    expect(decoded).toMatchObject({ ok: true, found: true, source: 'header', keyId: 'k1', reference: { kb: 'acme-prod', table: 'contracts', recordId, origin: 'rule:7' } });
    const human = await cli(['headers', 'decode', '--comm', String(reply.id)]);
    expect(human.stdout).toMatch(/rule or workflow\s+rule:7/);
    const none = await cli(['headers', 'decode', '--comm', String(byMessageId('hostile-1@acme.test').id)]);
    expect(none.code).toBe(1);
    expect(none.stdout).toContain('carries no mailctl reference at all');
    expect((await cli(['headers', 'decode'])).code).toBe(2);
    expect((await cli(['headers', 'decode', '-', '--comm', String(reply.id)])).code).toBe(2);
    expect((await cli(['headers', 'decode', '--comm', '999999'])).code).toBe(2);
  });

  it('comms raw gives the bytes the IMAP server served, to a file or a pipe; an existing file is kept without --force', async () => {
    for (const id of ['hostile-1@acme.test', 'reply-1@partner.test', 'quarantine-1@b.test']) {
      const comm = byMessageId(id) ?? comms.find((c) => c.disposition === 'quarantined')!;
      const original = served.get(id)!;
      expect(original, id).toBeDefined();
      expect(comm.rawHash).toBe(sha256(original));
      const piped = await runCliBytes(['comms', 'raw', String(comm.id)], { env, timeoutMs: 60_000 });
      expect(piped.code, piped.stderr).toBe(0);
      expect(sha256(piped.stdout)).toBe(sha256(original));
    }
    expect(served.get('hostile-1@acme.test')!.equals(hostile)).toBe(true); // Dovecot served what was delivered

    const a = byMessageId('hostile-1@acme.test');
    const file = join(work, 'a.eml');
    const saved = await json(['comms', 'raw', String(a.id), '-o', file]);
    expect(saved).toMatchObject({ ok: true, file, bytes: hostile.length, sha256: sha256(hostile) });
    expect(readFileSync(file).equals(hostile)).toBe(true);
    writeFileSync(file, 'keep me');
    const refused = await cli(['comms', 'raw', String(a.id), '-o', file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('exists already');
    expect(readFileSync(file, 'utf8')).toBe('keep me');
    expect((await cli(['comms', 'raw', String(a.id), '-o', file, '--force'])).code).toBe(0);
    expect(readFileSync(file).equals(hostile)).toBe(true);
    // --json and raw bytes cannot share stdout; a missing communication is a clear error.
    expect((await cli(['comms', 'raw', String(a.id), '--json'])).code).toBe(2);
    const missing = await cli(['comms', 'raw', '999999']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('There is no communication 999999');
  });

  it('comms attachment: by number, by name, --all; byte-identical; hostile names stay inside the folder; ambiguous and absent names list the attachments', async () => {
    const a = byMessageId('hostile-1@acme.test');
    const one = join(work, 'one.pdf');
    expect((await json(['comms', 'attachment', String(a.id), '1', '-o', one]))).toMatchObject({ ok: true, position: 1, filename: 'contract.pdf', bytes: attachments[0]!.bytes.length });
    expect(readFileSync(one).equals(attachments[0]!.bytes)).toBe(true);
    const byName = join(work, 'by-name.png');
    expect((await cli(['comms', 'attachment', String(a.id), 'LOGO.PNG', '-o', byName])).code).toBe(0);
    expect(readFileSync(byName).equals(attachments[1]!.bytes)).toBe(true);
    const climbing = join(work, 'climb.txt');
    expect((await cli(['comms', 'attachment', String(a.id), '../../etc/passwd', '-o', climbing])).code).toBe(0);
    expect(readFileSync(climbing).equals(attachments[2]!.bytes)).toBe(true);

    const ambiguous = await cli(['comms', 'attachment', String(a.id), 'notes.txt', '-o', join(work, 'n.txt')]);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain('2 attachments named "notes.txt" (5, 6)');
    expect(ambiguous.stderr).toMatch(/1\s+contract\.pdf/);
    expect(existsSync(join(work, 'n.txt'))).toBe(false);
    const absent = await cli(['comms', 'attachment', String(a.id), 'invoice.pdf', '-o', join(work, 'n.txt')]);
    expect(absent.code).toBe(2);
    expect(absent.stderr).toContain('no attachment named "invoice.pdf"');
    expect(absent.stderr).toContain('evil␛[31m<U+202E>fdp.exe');
    expect(absent.stderr).not.toContain('\u001b[31m');
    expect((await cli(['comms', 'attachment', String(a.id), '7', '-o', join(work, 'n.txt')])).code).toBe(2);
    expect((await cli(['comms', 'attachment', String(a.id), '1', '-o', one])).code).toBe(1); // exists; not replaced

    // --all into a folder inside a parent: nothing lands outside it, every file byte-identical.
    const parent = join(work, 'parent');
    const dir = join(parent, 'inner', 'all');
    mkdirSync(join(parent, 'inner'), { recursive: true });
    const all = await json(['comms', 'attachment', String(a.id), '--all', dir]);
    expect(all.saved.map((s: { file: string }) => s.file.slice(dir.length + 1))).toEqual(['contract.pdf', 'logo.png', 'passwd', 'evil[31mfdp.exe', 'notes.txt', 'notes-6.txt']);
    expect(readdirSync(dir).sort()).toEqual(['contract.pdf', 'evil[31mfdp.exe', 'logo.png', 'notes-6.txt', 'notes.txt', 'passwd']);
    expect(readdirSync(join(parent, 'inner'))).toEqual(['all']);
    expect(readdirSync(parent)).toEqual(['inner']);
    all.saved.forEach((s: { file: string }, i: number) => expect(readFileSync(s.file).equals(attachments[i]!.bytes), s.file).toBe(true));
    // Again: every existing name is refused before anything is written.
    const again = await cli(['comms', 'attachment', String(a.id), '--all', dir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('These files exist already; nothing was written');
    expect((await cli(['comms', 'attachment', String(a.id), '--all', dir, '--force'])).code).toBe(0);
    expect((await cli(['comms', 'attachment', String(a.id), '--all', dir, '1'])).code).toBe(2);

    const quarantined = comms.find((c) => c.disposition === 'quarantined')!;
    const none = await cli(['comms', 'attachment', String(quarantined.id), '1', '-o', join(work, 'q')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('has no attachments');
  });

  it('records show lists the record\'s communications and their attachments, also in --json', async () => {
    const reply = byMessageId('reply-1@partner.test');
    const shown = await cli(['records', 'show', String(recordId)]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/communications \(1\):/);
    expect(shown.stdout).toMatch(new RegExp(`${reply.id}\\s+in\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\s+lee@partner\\.test\\s+record-updated`));
    expect(shown.stdout).toMatch(/attachments \(1\):/);
    expect(shown.stdout).toMatch(new RegExp(`${reply.id}\\s+1\\s+countersigned\\.pdf\\s+application/pdf\\s+22 bytes`));
    const data = await json(['records', 'show', String(recordId)]);
    expect(data.communications.map((c: { id: number }) => c.id)).toEqual([reply.id]);
    expect(data.attachments).toEqual([expect.objectContaining({ communicationId: reply.id, position: 1, filename: 'countersigned.pdf', size: 22, purged: false })]);

    const created = byMessageId('hostile-1@acme.test');
    const other = await json(['records', 'show', String(created.recordId)]);
    expect(other.attachments.map((x: { filename: string }) => x.filename)).toEqual(attachments.map((x) => x.name));
    const text = (await cli(['records', 'show', String(created.recordId)])).stdout;
    expect(text).not.toContain('\u001b');
  });

  it('comms list: a REASON column cut to the width, --disposition and --since filters', async () => {
    const wide = await runCli(['comms', 'list'], { env: { ...env, COLUMNS: '150' } });
    expect(wide.code).toBe(0);
    const lines = wide.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/ID\s+DIR\s+TAKEN\s+TABLE\s+RECORD\s+FROM\s+DISPOSITION\s+SUBJECT\s+REASON$/);
    for (const line of lines) expect([...line].length, line).toBeLessThanOrEqual(150);
    expect(wide.stdout).toMatch(/record-created\s+Signed contract\s+no reference; pat@acme\.test/);
    expect(wide.stdout).toMatch(/quarantined\s+.*the message could not be .*…$/m); // cut
    const narrow = await runCli(['comms', 'list'], { env: { ...env, COLUMNS: '100' } });
    const narrowReason = narrow.stdout.split('\n').find((l) => l.includes('record-updated'))!;
    const wideReason = lines.find((l) => l.includes('record-updated'))!;
    expect([...narrowReason].length).toBeLessThan([...wideReason].length);

    const quarantined = await json(['comms', 'list', '--disposition', 'quarantined']);
    expect(quarantined.communications.map((c: Comm) => c.disposition)).toEqual(['quarantined']);
    const two = await json(['comms', 'list', '--disposition', 'quarantined,record-updated']);
    expect(two.communications.map((c: Comm) => c.disposition).sort()).toEqual(['quarantined', 'record-updated']);
    expect((await json(['comms', 'list', '--since', '1h'])).communications).toHaveLength(3);
    expect((await json(['comms', 'list', '--since', '2000-01-01'])).communications).toHaveLength(3);
    expect((await json(['comms', 'list', '--since', '2999-01-01'])).communications).toHaveLength(0);
    const bad = await cli(['comms', 'list', '--since', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since takes a duration');
  });

  it('-o FILE --force replaces only a regular file: a symbolic link, a FIFO, a device or a folder is refused, untouched; -o - is standard output', async () => {
    const a = byMessageId('hostile-1@acme.test');
    const dir = join(work, 'not-regular');
    mkdirSync(dir);
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'keep me');
    symlinkSync(victim, join(dir, 'link.eml'));
    execFileSync('mkfifo', [join(dir, 'fifo.eml')]);
    execFileSync('mknod', [join(dir, 'null.eml'), 'c', '1', '3']); // a second /dev/null
    mkdirSync(join(dir, 'folder.eml'));
    for (const [name, kind] of [['link.eml', 'a symbolic link'], ['fifo.eml', 'a FIFO'], ['null.eml', 'a device'], ['folder.eml', 'a folder']] as const) {
      for (const args of [['comms', 'raw', String(a.id)], ['comms', 'attachment', String(a.id), '1']]) {
        for (const force of [[], ['--force']]) {
          const r = await cli([...args, '-o', join(dir, name), ...force]);
          expect(r.code, `${args.join(' ')} ${name} ${force}: ${r.stderr}`).toBe(1);
          expect(r.stderr).toContain(`${join(dir, name)} is ${kind}`);
          expect(r.stderr).toContain('nothing was written');
        }
      }
    }
    expect(readlinkSync(join(dir, 'link.eml'))).toBe(victim);
    expect(readFileSync(victim, 'utf8')).toBe('keep me');
    expect(lstatSync(join(dir, 'fifo.eml')).isFIFO()).toBe(true);
    expect(lstatSync(join(dir, 'null.eml')).isCharacterDevice()).toBe(true);
    expect(readdirSync(join(dir, 'folder.eml'))).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(['fifo.eml', 'folder.eml', 'link.eml', 'null.eml', 'victim.txt']); // no temporary left

    // --all --force: a link among the names is refused before anything is written.
    const all = join(work, 'all-with-link');
    mkdirSync(all);
    symlinkSync(victim, join(all, 'logo.png'));
    const refused = await cli(['comms', 'attachment', String(a.id), '--all', all, '--force']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('not a regular file');
    expect(readdirSync(all)).toEqual(['logo.png']);
    expect(readFileSync(victim, 'utf8')).toBe('keep me');

    // -o - writes to standard output (a pipe here), verified, for raw mail and an attachment.
    const raw = await runCliBytes(['comms', 'raw', String(a.id), '-o', '-'], { env });
    expect(raw.code, raw.stderr.toString()).toBe(0);
    expect(raw.stdout.equals(hostile)).toBe(true);
    const pdf = await runCliBytes(['comms', 'attachment', String(a.id), '1', '-o', '-'], { env });
    expect(pdf.code, pdf.stderr.toString()).toBe(0);
    expect(pdf.stdout.equals(attachments[0]!.bytes)).toBe(true);
    expect(existsSync('-')).toBe(false);
    expect((await cli(['comms', 'attachment', String(a.id), '1', '-o', '-', '--json'])).code).toBe(2);
  });

  it('comms attachment --all that fails part-way says which files it already saved (not "nothing was written")', async () => {
    const a = byMessageId('hostile-1@acme.test');
    const data = await json(['comms', 'show', String(a.id)]);
    const third = data.attachments[2] as { sha256: string };
    const blob = join(home, 'messages', 'objects', third.sha256.slice(0, 2), `${third.sha256}.gz`);
    const original = readFileSync(blob);
    writeFileSync(blob, gzipSync(Buffer.from('not what was stored')));
    try {
      const dir = join(work, 'partly');
      const r = await cli(['comms', 'attachment', String(a.id), '--all', dir]);
      expect(r.code).toBe(5);
      expect(r.stderr).toContain(`Saved 2 of 6 attachments in ${dir}, then attachment 3 (${join(dir, 'passwd')}) failed: The stored content ${third.sha256} is corrupt`);
      expect(r.stderr).toMatch(new RegExp(`Already saved \\(kept\\):\\n.*1  ${join(dir, 'contract.pdf')}\\n.*2  ${join(dir, 'logo.png')}`));
      expect(r.stderr).not.toContain('nothing was written');
      expect(readdirSync(dir).sort()).toEqual(['contract.pdf', 'logo.png']);
      const j = await cli(['comms', 'attachment', String(a.id), '--all', join(work, 'partly-json'), '--json']);
      expect(JSON.parse(j.stdout).error).toMatchObject({ code: 'E_STORE_CORRUPT', saved: [{ position: 1 }, { position: 2 }], failed: { position: 3 } });
    } finally {
      writeFileSync(blob, original);
    }
  });

  it('comms list: a mistyped disposition, an unknown table, --limit 0 or below are usage errors, not "No communications."', async () => {
    const typo = await cli(['comms', 'list', '--disposition', 'quarantied']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('"quarantied" is not a disposition');
    expect(typo.stderr).toMatch(/is not a disposition\. Known dispositions: .*record-created.*quarantined.*sent/);
    const one = await cli(['comms', 'list', '--disposition', 'quarantined,ignord']);
    expect(one.code).toBe(2);
    expect(one.stderr).toContain('"ignord" is not a disposition');
    expect((await cli(['comms', 'list', '--disposition', ','])).code).toBe(2);
    const table = await cli(['comms', 'list', '--table', 'contrcts']);
    expect(table.code).toBe(2);
    expect(table.stderr).toContain('--table "contrcts": there is no such table');
    expect(table.stderr).toContain('Known tables: contracts');
    for (const limit of ['0', '-1', '00']) {
      const r = await cli(['comms', 'list', '--limit', limit]);
      expect(r.code, limit).toBe(2);
      expect(r.stderr).toContain('--limit must be a whole number of at least 1');
    }
    expect((await json(['comms', 'list', '--table', 'contracts', '--limit', '1'])).communications).toHaveLength(1);
    expect((await json(['comms', 'list', '--disposition', 'sent'])).communications).toEqual([]); // known, none yet: no error
  });

  it('a purged message says when and by which retention (exit 1); a corrupt stored file is refused with the hash mismatch and leaves no file', async () => {
    const reply = byMessageId('reply-1@partner.test');
    const db = new Database(join(home, 'mailctl.db'));
    db.prepare('UPDATE communications SET content_purged_at = ?, content_purge_reason = ? WHERE id = ?').run('2026-12-01T03:00:00.000Z', 'message_retention 30d', reply.id);
    db.close();
    const purged = await cli(['comms', 'raw', String(reply.id), '-o', join(work, 'purged.eml')]);
    expect(purged.code).toBe(1);
    expect(purged.stderr).toContain(`The stored content of communication ${reply.id} was purged at 2026-12-01T03:00:00.000Z (message_retention 30d)`);
    expect(existsSync(join(work, 'purged.eml'))).toBe(false);
    expect((await cli(['comms', 'show', String(reply.id)])).stdout).toMatch(/purged\s+2026-12-01T03:00:00\.000Z \(message_retention 30d\)/);
    expect((await cli(['comms', 'attachment', String(reply.id), '1', '-o', join(work, 'p.pdf')])).code).toBe(1);

    // Rewrite the hostile message's blob: valid gzip, other bytes.
    const a = byMessageId('hostile-1@acme.test');
    const blob = join(home, 'messages', 'objects', a.rawHash!.slice(0, 2), `${a.rawHash}.gz`);
    expect(existsSync(blob)).toBe(true);
    writeFileSync(blob, gzipSync(Buffer.concat([hostile.subarray(0, 1000), Buffer.from('tampered'), hostile.subarray(1008)])));
    const out = join(work, 'corrupt', 'a.eml');
    mkdirSync(join(work, 'corrupt'));
    const corrupt = await cli(['comms', 'raw', String(a.id), '-o', out]);
    expect(corrupt.code).toBe(5);
    expect(corrupt.stderr).toContain(`The stored content ${a.rawHash} is corrupt: its bytes hash to `);
    expect(readdirSync(join(work, 'corrupt'))).toEqual([]); // no file, no temporary left
    const piped = await runCliBytes(['comms', 'raw', String(a.id)], { env });
    expect(piped.code).toBe(5);
    expect(piped.stdout.length).toBe(0); // nothing of it reached the pipe
    // Not gzip at all: corrupt too, never a stack trace.
    writeFileSync(blob, 'not gzip');
    const garbage = await cli(['comms', 'raw', String(a.id), '-o', out]);
    expect(garbage.code).toBe(5);
    expect(garbage.stderr).toMatch(new RegExp(`The stored content ${a.rawHash} is corrupt: it cannot be decompressed \\(.+\\) \\(`));
    expect(garbage.stderr).not.toContain('hashes to unreadable');
    expect(garbage.stderr).not.toContain('    at ');
    expect(readdirSync(join(work, 'corrupt'))).toEqual([]);
  });
});

describe('an attachment without a name (a forwarded message)', () => {
  const tempDir = useTempDirs();

  it('comms show says (no name) and its type, and names the file it would be saved as: attachment-1.eml', async () => {
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    await runCli(['init', '--name', 'acme', '--url', 'https://records.acme.test', '--environment', 'production'], { env });
    await runCli(['tables', 'add', 'contracts'], { env });
    await runCli(['contacts', 'add', 'pat@acme.test', '--can-create', 'contracts'], { env });
    const forwarded = 'From: lee@partner.test\r\nTo: pat@acme.test\r\nSubject: The original\r\nMessage-ID: <orig-1@partner.test>\r\n\r\nThe original text.\r\n';
    const raw = ['From: pat@acme.test', 'To: contracts@acme.test', 'Subject: Fwd: The original', 'Message-ID: <fwd-1@acme.test>', 'Date: Fri, 27 Nov 2026 10:00:00 +0000',
      'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b0"', '', '--b0', 'Content-Type: text/plain; charset=utf-8', '', 'See below.',
      '--b0', 'Content-Type: message/rfc822', '', forwarded, '--b0', 'Content-Type: application/pdf', 'Content-Transfer-Encoding: base64', '', Buffer.from('%PDF-1.4 no name').toString('base64'),
      '--b0--', ''].join('\r\n');
    const [taken] = await ingestAt(home, [{ raw, at: new Date() }]);
    const id = taken!.communicationId;
    const data = JSON.parse((await runCli(['comms', 'show', String(id), '--json'], { env })).stdout);
    expect(data.attachments.map((a: { filename: string | null; contentType: string }) => [a.filename, a.contentType])).toEqual([[null, 'message/rfc822'], [null, 'application/pdf']]);

    const shown = await runCli(['comms', 'show', String(id)], { env });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/1\s+\(no name\)\s+message\/rfc822\s/);
    expect(shown.stdout).toMatch(/2\s+\(no name\)\s+application\/pdf\s/);
    expect(shown.stdout).toContain(`Save one:  mailctl comms attachment ${id} 1 -o attachment-1.eml`);
    expect(shown.stdout).toContain('Without a name in the mail, --all saves 1 as attachment-1.eml, 2 as attachment-2.pdf.');

    const dir = join(home, 'saved');
    const all = await runCli(['comms', 'attachment', String(id), '--all', dir, '--json'], { env });
    expect(all.code, all.stderr).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['attachment-1.eml', 'attachment-2.pdf']);
    expect(readFileSync(join(dir, 'attachment-1.eml'), 'utf8')).toContain('The original text.');
    const one = await runCli(['comms', 'attachment', String(id), '1', '-o', join(home, 'one.eml')], { env });
    expect(one.stdout).toContain('Saved attachment 1 ((no name), message/rfc822,');
  });
});
