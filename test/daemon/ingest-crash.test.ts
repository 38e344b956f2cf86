import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { simpleMessage } from '../helpers/messages.js';
import { binPath, runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const messages = 500;
const kills = 10;

describe('kill -9 during ingest: no message lost, none taken twice', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'contracts@acme.test', password: 'c-pass' }] });
    for (let i = 0; i < messages; i++) {
      dovecot.deliver('contracts@acme.test', simpleMessage({ from: i % 3 === 0 ? 'pat@acme.test' : `stranger${i}@elsewhere.test`, subject: `Message ${i}`, messageId: `crash-${i}@acme.test`, body: `Body ${i}` }));
    }
  });
  afterAll(() => dovecot?.stop());

  it(`${messages} messages, the daemon killed ${kills} times at random points, then run to the end: exactly one communication each`, async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await runCli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production'], { env });
    await runCli(['tables', 'add', 'contracts'], { env });
    await runCli(['contacts', 'add', 'pat@acme.test', '--can-create', 'contracts'], { env });
    await runCli(['contacts', 'add', 'guest@acme.test', '--guest'], { env });
    expect((await runCli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none', '--auth', 'password',
      '--username', 'contracts@acme.test', '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'guest', '--guest', 'guest@acme.test', '--notes', 'new-text', '--after', 'mark-read'], { env, input: 'c-pass' })).code).toBe(0);

    let killedMidway = 0;
    for (let round = 0; round < kills; round++) {
      const child = spawn(process.execPath, [binPath, 'daemon', '--once'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
      const delay = 300 + Math.floor(Math.random() * 900);
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const timer = setTimeout(() => child.kill('SIGKILL'), delay);
      const code = await exited;
      clearTimeout(timer);
      if (code === null) killedMidway++;
    }
    const finish = await runCli(['daemon', '--once', '--sweep', '--json'], { env, timeoutMs: 120_000 });
    expect(finish.code, finish.stderr).toBe(0);
    expect(killedMidway).toBeGreaterThan(0);

    const db = await openDatabase(join(env.MAILCTL_HOME, 'mailctl.db'));
    const rows = db.prepare("SELECT message_id AS id, count(*) AS n FROM communications WHERE direction = 'inbound' GROUP BY message_id").all() as Array<{ id: string; n: number }>;
    const notes = (db.prepare('SELECT count(*) AS n FROM record_notes').get() as { n: number }).n;
    const records = (db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n;
    db.close();
    expect(rows).toHaveLength(messages);
    expect(rows.every((r) => r.n === 1)).toBe(true);
    expect(records).toBe(messages); // each message made exactly one record (contact or guest)
    expect(notes).toBe(messages);
  }, 300_000);
});
