import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

// Issue 16 item 2, end to end: the two quoted-history cases (test/fixtures/inbound-cases/)
// delivered to a real Dovecot and taken by `mailctl daemon --once` with notes of new text.

describe('mailctl daemon --once: only the new text of a reply becomes the note (real Dovecot)', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'support@acme.test', password: 's-pass' }] });
  });
  afterAll(() => dovecot?.stop());

  it('bottom-posted-reply.eml keeps every new line; quoted-outlook-header-de.eml is "Passt so, danke." only', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const json = async (args: string[]) => {
      const r = await runCli([...args, '--json'], { env });
      expect([0, 1], `${args.join(' ')}: ${r.stderr}`).toContain(r.code);
      return JSON.parse(r.stdout);
    };
    await runCli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production'], { env });
    await runCli(['tables', 'add', 'support'], { env });
    await runCli(['contacts', 'add', 'ben@example.test', '--name', 'Ben Sample', '--can-create', 'support'], { env });
    await runCli(['contacts', 'add', 'ann@example.test', '--name', 'Ann', '--can-create', 'support'], { env });
    const configured = await runCli(['configure', 'inbound', 'support', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none',
      '--auth', 'password', '--username', 'support@acme.test', '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore',
      '--notes', 'new-text', '--after', 'mark-read'], { env, input: 's-pass' });
    expect(configured.code, configured.stderr).toBe(0);
    for (const name of ['bottom-posted-reply', 'quoted-outlook-header-de']) {
      dovecot.deliver('support@acme.test', readFileSync(new URL(`../fixtures/inbound-cases/${name}.eml`, import.meta.url)));
    }

    const run = await json(['daemon', '--once']);
    expect(run.accounts[0]).toMatchObject({ status: 'ok', poll: { processed: 2 } });
    const records = (await json(['records', 'list', '--table', 'support'])).records as Array<{ id: number; title: string }>;
    const noteOf = async (title: string) => {
      const record = records.find((r) => r.title === title);
      expect(record, title).toBeDefined();
      return (await json(['records', 'show', String(record!.id)])).notes.map((n: { body: string }) => n.body);
    };
    expect(await noteOf('Delivery date for order 4411')).toEqual(['Thursday morning works best for us.\n\nYes, please call 15 minutes ahead.\n\nBen']);
    expect(await noteOf('Draft ready')).toEqual(['Passt so, danke.']);
  });
});
