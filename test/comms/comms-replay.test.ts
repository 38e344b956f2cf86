import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InboundAccount } from '../../src/inbound/inbound-config.js';
import { commitMessage } from '../../src/inbound/ingest-message.js';
import { openDatabase } from '../../src/store/database.js';
import { FsMessageStore } from '../../src/store/fs-message-store.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { simpleMessage } from '../helpers/messages.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { messageWithAttachments } from './comms-messages.js';

interface Comm { id: number; direction: string; messageId: string | null; disposition: string; reason: string | null; recordId: number | null; replayOf: number | null; duplicateOf: number | null; rawHash: string | null }

describe('mailctl comms replay: a stored inbound message through the rules again, exactly once (real Dovecot)', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'contracts@acme.test', password: 'c-pass' }] });
  });
  afterAll(() => dovecot?.stop());

  it('an ignored message from a stranger makes its record once the sender is a contact; a quarantined one is replayed; a second replay is refused', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const cli = (args: string[]) => runCli(args, { env, timeoutMs: 60_000 });
    const json = async (args: string[], code = 0) => {
      const r = await cli([...args, '--json']);
      expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(code);
      return JSON.parse(r.stdout);
    };
    await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await cli(['tables', 'add', 'contracts']);
    await cli(['contacts', 'add', 'pat@acme.test', '--name', 'Pat Lee', '--can-create', 'contracts']);
    const configured = await runCli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none',
      '--auth', 'password', '--username', 'contracts@acme.test', '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore',
      '--notes', 'new-text', '--after', 'mark-read'], { env, input: 'c-pass' });
    expect(configured.code, configured.stderr).toBe(0);

    const quote = Buffer.from('%PDF-1.4 quote for 40 seats');
    const fromStranger = messageWithAttachments({ from: 'Sam Stranger <sam@elsewhere.test>', subject: 'Quote for 40 seats', messageId: 'stranger-1@elsewhere.test',
      body: 'Here is our quote.', attachments: [{ param: 'filename="quote.pdf"', name: 'quote.pdf', type: 'application/pdf', bytes: quote }] });
    dovecot.deliver('contracts@acme.test', fromStranger);
    dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'kim@elsewhere.test', subject: 'Second stranger', messageId: 'stranger-2@elsewhere.test' }));
    dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'kim@elsewhere.test', subject: 'Third stranger', messageId: 'stranger-3@elsewhere.test' }));
    dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'kim@elsewhere.test', subject: 'Fourth stranger', messageId: 'stranger-4@elsewhere.test' }));
    const twice = simpleMessage({ from: 'pat@acme.test', subject: 'New NDA', messageId: 'nda-1@acme.test', body: 'Please open a record.' });
    dovecot.deliver('contracts@acme.test', twice);
    dovecot.deliver('contracts@acme.test', twice);
    dovecot.deliver('contracts@acme.test', `From: a@b.test\r\nSubject: ${'x'.repeat(3_000_000)}\r\n\r\nbody\r\n`);
    expect((await cli(['daemon', '--once'])).code).toBe(0);

    const list = async (): Promise<Comm[]> => (await json(['comms', 'list'])).communications;
    let comms = await list();
    const by = (id: string) => comms.find((c) => c.messageId === id && c.replayOf === null && c.disposition !== 'duplicate')!;
    const stranger = by('stranger-1@elsewhere.test');
    expect(stranger).toMatchObject({ disposition: 'ignored', recordId: null });
    const quarantined = comms.find((c) => c.disposition === 'quarantined')!;
    const duplicate = comms.find((c) => c.disposition === 'duplicate')!;
    expect(duplicate).toBeDefined();
    const recordsBefore = (await json(['records', 'list'])).records.length;

    // The sender becomes a contact who may create records: the replay creates the record.
    await cli(['contacts', 'add', 'sam@elsewhere.test', '--name', 'Sam Stranger', '--can-create', 'contracts']);
    const replay = await cli(['comms', 'replay', String(stranger.id)]);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toMatch(new RegExp(`✓ Replayed communication ${stranger.id} as communication \\d+: record-created — no reference; sam@elsewhere\\.test is a contact`));
    comms = await list();
    const replayed = comms.find((c) => c.replayOf === stranger.id)!;
    expect(replayed).toMatchObject({ direction: 'inbound', disposition: 'record-created', messageId: 'stranger-1@elsewhere.test', rawHash: stranger.rawHash });
    expect(replayed.recordId).not.toBeNull();
    expect(comms.find((c) => c.id === stranger.id)).toEqual(stranger); // the first outcome is unchanged
    expect((await json(['records', 'list'])).records).toHaveLength(recordsBefore + 1);
    const record = await json(['records', 'show', String(replayed.recordId)]);
    expect(record.record).toMatchObject({ title: 'Quote for 40 seats', createdBy: 'sam@elsewhere.test' });
    expect(record.notes).toEqual([expect.objectContaining({ communicationId: replayed.id, body: 'Here is our quote.' })]);
    expect(record.communications.map((c: Comm) => c.id)).toEqual([replayed.id]);
    expect(record.attachments).toEqual([expect.objectContaining({ communicationId: replayed.id, filename: 'quote.pdf', size: quote.length })]);

    // Both outcomes side by side in comms show.
    const first = await cli(['comms', 'show', String(stranger.id)]);
    expect(first.stdout).toMatch(/disposition\s+ignored: no reference and an unknown sender/);
    expect(first.stdout).toMatch(new RegExp(`replayed as\\s+communication ${replayed.id}: record-created`));
    const second = await cli(['comms', 'show', String(replayed.id)]);
    expect(second.stdout).toMatch(new RegExp(`replay of\\s+communication ${stranger.id}, which was ignored: no reference and an unknown sender`));
    expect((await json(['comms', 'show', String(stranger.id)])).replayedBy).toMatchObject({ id: replayed.id, disposition: 'record-created', recordId: replayed.recordId });

    // Exactly once.
    const again = await cli(['comms', 'replay', String(stranger.id)]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`Communication ${stranger.id} was already replayed, as communication ${replayed.id} (record-created)`);
    expect((await list()).filter((c) => c.replayOf === stranger.id)).toHaveLength(1);

    // The same message arriving again is a duplicate of the replay, whose outcome replaced the first.
    dovecot.deliver('contracts@acme.test', fromStranger);
    expect((await cli(['daemon', '--once'])).code).toBe(0);
    expect((await list()).find((c) => c.messageId === 'stranger-1@elsewhere.test' && c.disposition === 'duplicate')).toMatchObject({ duplicateOf: replayed.id, recordId: replayed.recordId });

    // A replay that did not take effect (kim is no contact yet: ignored again) is what to replay next, and the refusal says so.
    const fourth = by('stranger-4@elsewhere.test');
    const ignoredAgain = await cli(['comms', 'replay', String(fourth.id)]);
    expect(ignoredAgain.code, ignoredAgain.stderr).toBe(0);
    const replay4 = (await list()).find((c) => c.replayOf === fourth.id)!;
    expect(replay4.disposition).toBe('ignored');
    expect(ignoredAgain.stderr).toContain(`It did not take effect; once the cause is fixed, run  mailctl comms replay ${replay4.id}`);
    const pointed = await cli(['comms', 'replay', String(fourth.id)]);
    expect(pointed.code).toBe(1);
    expect(pointed.stderr).toContain(`Communication ${fourth.id} was already replayed, as communication ${replay4.id} (ignored)`);
    expect(pointed.stderr).toContain(`try: mailctl comms replay ${replay4.id}`);
    expect(pointed.stderr).not.toContain('comms show');

    // Two replays of one message at the same moment: one wins, the other is told.
    await cli(['contacts', 'add', 'kim@elsewhere.test', '--can-create', 'contracts']);
    // Now the replay of the replay takes effect; the first one's refusal names the end of the chain.
    const took = await json(['comms', 'replay', String(replay4.id)]);
    expect(took.communication).toMatchObject({ disposition: 'record-created', replayOf: replay4.id });
    const end = await cli(['comms', 'replay', String(fourth.id)]);
    expect(end.code).toBe(1);
    expect(end.stderr).toContain(`that replay was itself replayed, last as communication ${took.communication.id} (record-created)`);
    expect(end.stderr).toContain(`try: mailctl comms show ${took.communication.id}`);
    const second2 = by('stranger-2@elsewhere.test');
    const race = await Promise.all([cli(['comms', 'replay', String(second2.id)]), cli(['comms', 'replay', String(second2.id)])]);
    expect(race.map((r) => r.code).sort(), race.map((r) => r.stderr).join("\n")).toEqual([0, 1]);
    expect(race.find((r) => r.code === 1)!.stderr).toMatch(new RegExp(`Communication ${second2.id} was already replayed, as communication \\d+`));
    expect((await list()).filter((c) => c.replayOf === second2.id)).toHaveLength(1);

    // A quarantined message is replayed (here the fault remains, so it is quarantined again),
    // and that replay can itself be replayed once the cause is fixed; the first cannot again.
    const q = await json(['comms', 'replay', String(quarantined.id)]);
    expect(q).toMatchObject({ ok: true, replayOf: quarantined.id, communication: { disposition: 'quarantined', replayOf: quarantined.id, rawHash: quarantined.rawHash } });
    const qHuman = await cli(['comms', 'show', String(quarantined.id)]);
    expect(qHuman.stdout).toMatch(new RegExp(`replayed as\\s+communication ${q.communication.id}: quarantined`));
    const qAgain = await cli(['comms', 'replay', String(quarantined.id)]);
    expect(qAgain.code).toBe(1);
    expect(qAgain.stderr).toContain(`mailctl comms replay ${q.communication.id}`);
    const q2 = await json(['comms', 'replay', String(q.communication.id)]);
    expect(q2.communication).toMatchObject({ disposition: 'quarantined', replayOf: q.communication.id });
    const qChain = await cli(['comms', 'replay', String(quarantined.id)]);
    expect(qChain.stderr).toContain(`try: mailctl comms replay ${q2.communication.id}`); // the end of the chain, not the replay already replayed

    // What cannot be replayed says why.
    const dup = await cli(['comms', 'replay', String(duplicate.id)]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain(`is a duplicate of communication ${duplicate.duplicateOf}`);
    expect(duplicate.duplicateOf).toBe(by('nda-1@acme.test').id);
    const nda = by('nda-1@acme.test');
    expect((await cli(['configure', 'server', '--host', '127.0.0.1', '--port', '2525', '--security', 'none', '--auth', 'none', '--from', 'records@acme.test', '--no-verify'])).code).toBe(0);
    const sent = await cli(['send', '--table', 'contracts', '--record', String(nda.recordId), '--to', 'pat@acme.test', '--subject', 'Draft', '--body', 'Attached.']);
    expect(sent.code, sent.stderr).toBe(0);
    const outbound = (await list()).find((c) => c.direction === 'outbound')!;
    const out = await cli(['comms', 'replay', String(outbound.id)]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('is outbound');
    expect((await cli(['comms', 'replay', '999999'])).code).toBe(2);
    await cli(['inbound', 'remove', 'contracts']);
    const gone = await cli(['comms', 'replay', String(by('stranger-3@elsewhere.test').id)]);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toContain('is no longer configured');
  }, 120_000);

  it('a message an earlier mailctl quarantined (its parser failed) is processed when replayed after the upgrade, once', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const cli = (args: string[]) => runCli(args, { env, timeoutMs: 60_000 });
    await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await cli(['tables', 'add', 'contracts']);
    await cli(['contacts', 'add', 'pat@acme.test', '--name', 'Pat Lee', '--can-create', 'contracts']);
    const configured = await runCli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none',
      '--auth', 'password', '--username', 'contracts@acme.test', '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore',
      '--notes', 'new-text', '--after', 'mark-read'], { env, input: 'c-pass' });
    expect(configured.code, configured.stderr).toBe(0);

    // What the daemon records when its parser fails on a message: the bytes stored, the row
    // quarantined with the parser's words. Here the "fault" is that of an earlier version.
    const raw = Buffer.from(simpleMessage({ from: 'pat@acme.test', subject: 'Renewal of the Initech MSA', messageId: 'msa-9@acme.test', body: 'Please open a record.' }));
    const store = new FsMessageStore(join(env.MAILCTL_HOME, 'messages'));
    const batch = store.batch();
    const blob = await batch.put(raw);
    await batch.commit();
    const db = await openDatabase(join(env.MAILCTL_HOME, 'mailctl.db'));
    const account = { table: 'contracts', allowRecordCreation: true, unknownSender: 'ignore', notes: 'new-text' } as unknown as InboundAccount;
    const ctx = { db, store, clock: { now: () => new Date() }, keys: new Map(), kb: 'acme-prod', maxTextChars: 1_000_000 };
    const outcome = db.transaction(() => commitMessage(ctx, account, 'imap:1:77', { raw: blob, headerBlock: raw.toString().split('\r\n\r\n')[0]!, parsed: null, parseError: 'Unexpected end of input (parser 0.9)' }))();
    db.close();
    expect(outcome).toMatchObject({ kind: 'processed', disposition: 'quarantined' });
    const id = (outcome as { communicationId: number }).communicationId;

    const replay = await cli(['comms', 'replay', String(id), '--json']);
    expect(replay.code, replay.stderr).toBe(0);
    const result = JSON.parse(replay.stdout);
    expect(result.communication).toMatchObject({ replayOf: id, disposition: 'record-created', rawHash: blob.hash });
    const record = JSON.parse((await cli(['records', 'show', String(result.communication.recordId), '--json'])).stdout);
    expect(record.record).toMatchObject({ title: 'Renewal of the Initech MSA', createdBy: 'pat@acme.test' });
    expect(record.notes).toEqual([expect.objectContaining({ communicationId: result.communication.id, body: 'Please open a record.' })]);
    const again = await cli(['comms', 'replay', String(id)]);
    expect(again.code).toBe(1);
    expect(JSON.parse((await cli(['records', 'list', '--json'])).stdout).records).toHaveLength(1);
  });
});
