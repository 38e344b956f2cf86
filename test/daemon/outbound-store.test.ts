import { createHash } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simpleParser } from 'mailparser';
import { FsMessageStore } from '../../src/store/fs-message-store.js';
import { readStored } from '../../src/store/message-store.js';
import { runCli } from '../helpers/run-cli.js';
import { startSmtpSink, type SmtpSink, type SmtpSinkOptions } from '../helpers/smtp-sink.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('outbound mail in the message store', () => {
  const tempDir = useTempDirs();
  const behaviour: SmtpSinkOptions = {};
  let sink: SmtpSink;
  beforeAll(async () => {
    sink = await startSmtpSink(behaviour);
  });
  afterAll(() => sink?.close());

  it('send --attach copies the file into the store: changing or deleting it after send changes nothing; the bytes sent are the bytes stored, on every attempt', async () => {
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    const json = async (args: string[]) => {
      const r = await runCli([...args, '--json'], { env });
      expect([0, 1], `${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toContain(r.code);
      return JSON.parse(r.stdout);
    };
    await json(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await json(['tables', 'add', 'contracts']);
    const record = (await json(['records', 'add', '--table', 'contracts', '--title', 'MSA renewal'])).record;
    await json(['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'none', '--from', 'records@acme.test', '--no-verify']);
    await json(['config', 'set', 'outbound_retry_interval', '1s']);

    const pdf = randomBytes(300_000);
    const file = join(tempDir(), 'contract.pdf');
    writeFileSync(file, pdf);
    const queued = await json(['send', '--table', 'contracts', '--record', String(record.id), '--to', 'pat@acme.test', '--subject', 'The contract', '--body', 'Attached.', '--attach', file]);
    expect(queued).toMatchObject({ ok: true, queued: true });
    writeFileSync(file, 'changed after send'); // the admin edits the file…
    rmSync(file); // …then deletes it

    // The first attempt fails (451): the message is built and stored anyway, and the retry sends those bytes.
    behaviour.rejectRecipient = '451 4.3.0 Try again later';
    const first = await json(['daemon', '--once']);
    expect(first.outbound).toMatchObject({ claimed: 1, deferred: 1 });
    const comm = (await json(['comms', 'list'])).communications.find((c: { direction: string }) => c.direction === 'outbound');
    expect(comm.rawHash).toMatch(/^[0-9a-f]{64}$/);
    const store = new FsMessageStore(join(home, 'messages'));
    const stored = await readStored(store, comm.rawHash);

    behaviour.rejectRecipient = undefined;
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = await json(['daemon', '--once']);
    expect(second.outbound).toMatchObject({ sent: 1 });
    expect(sink.messages).toHaveLength(1);
    // smtp-server hands over the DATA as received: the same bytes as stored at the first attempt.
    expect(sha256(sink.messages[0]!.raw)).toBe(sha256(stored));
    const parsed = await simpleParser(sink.messages[0]!.raw);
    expect(parsed.attachments).toHaveLength(1);
    expect(parsed.attachments[0]!.filename).toBe('contract.pdf');
    expect(sha256(parsed.attachments[0]!.content)).toBe(sha256(pdf));
    expect((await json(['comms', 'list'])).communications.find((c: { id: number }) => c.id === comm.id)).toMatchObject({ disposition: 'sent', messageId: parsed.messageId!.replace(/^<|>$/g, '') });

    // The communication lists the attachment, whose bytes are in the store.
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(home, 'mailctl.db'), { readonly: true });
    const attachments = db.prepare('SELECT filename, size, sha256 FROM communication_attachments WHERE communication_id = ?').all(comm.id);
    db.close();
    expect(attachments).toEqual([{ filename: 'contract.pdf', size: pdf.length, sha256: sha256(pdf) }]);
    // Kept like an inbound message: the header block as sent (with the reference), the Date, the text, the type.
    const shown = await json(['comms', 'show', String(comm.id)]);
    expect(shown.communication.sentAt).toMatch(/\d{4} \d\d:\d\d:\d\d/);
    expect(shown.content).toMatchObject({ text: 'Attached.' });
    expect(JSON.stringify(shown)).toContain('application/pdf');
    const headers = await runCli(['comms', 'show', String(comm.id), '--headers'], { env });
    expect(headers.code, headers.stderr).toBe(0);
    expect(headers.stdout).toMatch(/^X-Mailctl-Ref: /m);
    expect(headers.stdout).toMatch(/^Date: /m);
    expect(sha256(await readStored(store, sha256(pdf)))).toBe(sha256(pdf));
  });
});
