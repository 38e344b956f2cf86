import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { runCli } from '../helpers/run-cli.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { useTempDirs } from '../helpers/temp-dir.js';

describe('mailctl send and the queue admin commands', () => {
  const tempDir = useTempDirs();
  let sink: SmtpSink;
  beforeAll(async () => {
    sink = await startSmtpSink({});
  });
  afterAll(() => sink?.close());

  it('send validates; queue list/show/hold/release/retry/delete work like postqueue and postsuper', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const json = async (args: string[]) => {
      const r = await runCli([...args, '--json'], { env });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      return JSON.parse(r.stdout);
    };
    await json(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await json(['tables', 'add', 'contracts']);
    const record = (await json(['records', 'add', '--table', 'contracts', '--title', 'MSA'])).record;
    const deadPort = await freePort();
    await json(['configure', 'server', '--host', '127.0.0.1', '--port', String(deadPort), '--security', 'none', '--auth', 'none', '--from', 'records@acme.test', '--no-verify']);
    const base = ['send', '--table', 'contracts', '--record', String(record.id), '--to', 'pat@acme.test', '--subject', 'Hi'];

    // Bad input: nothing queued.
    const big = join(env.MAILCTL_HOME, 'big.bin');
    writeFileSync(big, Buffer.alloc(11 * 1024 * 1024));
    const cases: Array<[string[], number, RegExp]> = [
      [[...base, '--body', 'x', '--attach', big], 18, /over max_attachment_size 10MB/],
      [[...base, '--body', 'x', '--from', ''], 18, /no from-address/],
      [[...base], 2, /exactly one of --body or --body-file/],
      [['send', '--table', 'contracts', '--record', '999', '--to', 'pat@acme.test', '--subject', 'Hi', '--body', 'x'], 2, /no record 999/],
      [[...base, '--body', 'x', '--attach', '/no/such/file'], 2, /Cannot read the attachment/],
    ];
    for (const [args, code, message] of cases) {
      const r = await runCli(args, { env });
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    expect((await json(['queue', 'list'])).entries).toEqual([]);

    const first = (await json([...base, '--body', 'one'])).id;
    const second = (await json([...base, '--body', 'two'])).id;
    await runCli(['daemon', '--once'], { env });
    expect((await json(['queue', 'show', String(first)])).entry).toMatchObject({ status: 'deferred', attempts: 1, lastError: expect.stringContaining('ECONNREFUSED') });

    await json(['queue', 'hold', String(second)]);
    expect((await json(['queue', 'list', '--status', 'held'])).entries.map((e: { id: number }) => e.id)).toEqual([second]);
    await json(['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'none', '--from', 'records@acme.test']);
    await json(['queue', 'retry', String(first)]); // due now instead of in 30 minutes
    await runCli(['daemon', '--once'], { env });
    expect((await json(['queue', 'show', String(first)])).entry.status).toBe('sent');
    expect((await json(['queue', 'show', String(second)])).entry.status).toBe('held');
    await json(['queue', 'release', String(second)]);
    await runCli(['daemon', '--once'], { env });
    expect((await json(['queue', 'list'])).counts).toEqual({ sent: 2 });
    expect(sink.messages.map((m) => m.to)).toEqual([['pat@acme.test'], ['pat@acme.test']]);

    const third = (await json([...base, '--body', 'three'])).id;
    await json(['queue', 'delete', String(third)]);
    expect((await runCli(['queue', 'show', String(third)], { env })).code).toBe(2);
    expect((await runCli(['queue', 'release', String(first)], { env })).stderr).toContain('is sent, not held');
    const human = await runCli(['queue', 'list'], { env });
    expect(human.stdout).toMatch(/^ID\s+STATUS\s+TRIES/m);
    expect(human.stdout).toContain('sent: 2');
  });

  it('queue retry refuses a failed message whose stored content was purged, and says why', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const json = async (args: string[]) => {
      const r = await runCli([...args, '--json'], { env });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      return JSON.parse(r.stdout);
    };
    await json(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await json(['tables', 'add', 'contracts']);
    const record = (await json(['records', 'add', '--table', 'contracts', '--title', 'MSA'])).record;
    const failing = await startSmtpSink({ rejectRecipient: '550 5.1.1 User unknown' });
    try {
      await json(['configure', 'server', '--host', '127.0.0.1', '--port', String(failing.port), '--security', 'none', '--auth', 'none', '--from', 'records@acme.test', '--no-verify']);
      const id = (await json(['send', '--table', 'contracts', '--record', String(record.id), '--to', 'pat@acme.test', '--subject', 'Hi', '--body', 'x'])).id;
      await runCli(['daemon', '--once'], { env });
      expect((await json(['queue', 'show', String(id)])).entry.status).toBe('failed');
      // Its content is purged as message_retention would (rows stay), then an admin tries it again.
      const { default: Database } = await import('better-sqlite3');
      const db = new Database(join(env.MAILCTL_HOME, 'mailctl.db'));
      db.prepare("UPDATE communications SET content_purged_at = '2026-01-01T00:00:00.000Z', content_purge_reason = 'message_retention 30d' WHERE direction = 'outbound'").run();
      db.close();
      const retry = await runCli(['queue', 'retry', String(id)], { env });
      expect(retry.code).toBe(1);
      expect(retry.stderr).toMatch(/cannot be retried: its stored content was purged/);
      expect((await json(['queue', 'show', String(id)])).entry.status).toBe('failed');
    } finally {
      await failing.close();
    }
  });
});
