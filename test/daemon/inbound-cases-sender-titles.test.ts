import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

// Issue 16, items 5 and 6: the cases of test/fixtures/inbound-cases/ (copied from the cases of
// real faults, with the right values of their README) through a real Dovecot and `daemon --once`.
const caseFile = (name: string) => readFileSync(join(import.meta.dirname, '..', 'fixtures', 'inbound-cases', name)).toString('latin1').replace(/\r?\n/g, '\r\n');

interface Comm { id: number; account: string; messageId: string; disposition: string; reason: string; from: string | null; senderHeader: string | null; recordId: number | null }

describe('inbound cases: the sender and the title (real Dovecot, daemon --once)', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'support@acme.test', password: 's-pass' }, { name: 'strict@acme.test', password: 't-pass' }] });
  });
  afterAll(() => dovecot?.stop());

  it('a sender from Reply-To, never a different mailbox for a broken one, no notice to it, and titles without foreign prefixes', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const cli = async (args: string[], input?: string) => {
      const r = await runCli(args, { env, ...(input ? { input } : {}) });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      return r;
    };
    const json = async (args: string[]) => {
      const r = await runCli([...args, '--json'], { env });
      expect([0, 1], `${args.join(' ')}: ${r.stderr}`).toContain(r.code);
      return JSON.parse(r.stdout);
    };
    await cli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await cli(['tables', 'add', 'support']);
    await cli(['tables', 'add', 'strict']);
    await cli(['contacts', 'add', 'ann@example.test', '--name', 'Ann', '--can-create', 'support', '--can-create', 'strict']);
    await cli(['contacts', 'add', 'guest@acme.test', '--name', 'Email guest', '--guest']);
    // An outbound server, so that a rejected sender's notice is queued (it is never sent here).
    await cli(['configure', 'server', '--host', '127.0.0.1', '--port', '2525', '--security', 'none', '--auth', 'none', '--from', 'records@acme.test', '--no-verify']);
    const inbound = (table: string, user: string, policy: string[]) => ['configure', 'inbound', table, '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none',
      '--auth', 'password', '--username', user, '--secret-stdin', '--folder', 'INBOX', '--create-records', ...policy, '--notes', 'new-text', '--after', 'mark-read'];
    await cli(inbound('support', 'support@acme.test', ['--unknown-sender', 'guest', '--guest', 'guest@acme.test']), 's-pass');
    await cli(inbound('strict', 'strict@acme.test', ['--unknown-sender', 'reject']), 't-pass');

    const cases = ['no-from-only-reply-to.eml', 'space-in-address.eml', 'prefix-re-bracket-2.eml', 'prefix-antw.eml', 'prefix-tr.eml'];
    for (const name of cases) dovecot.deliver('support@acme.test', caseFile(name));
    for (const name of ['no-from-only-reply-to.eml', 'space-in-address.eml']) dovecot.deliver('strict@acme.test', caseFile(name));
    await json(['daemon', '--once']);

    const comms = (await json(['comms', 'list'])).communications as Comm[];
    const of = (account: string, messageId: string) => {
      const found = comms.find((c) => c.account === account && c.messageId === messageId);
      expect(found, `${account} ${messageId}`).toBeDefined();
      return found!;
    };
    const noteOf = async (c: Comm) => (await json(['records', 'show', String(c.recordId)])).notes[0].body as string;
    const titleOf = async (c: Comm) => (await json(['records', 'show', String(c.recordId)])).record.title as string;

    // no-from-only-reply-to: the sender is kai@example.test, read from Reply-To.
    const kai = of('support', 'case08.no-from@example.test');
    expect(kai).toMatchObject({ disposition: 'guest-record-created', from: 'kai@example.test', senderHeader: 'Reply-To' });
    expect(await noteOf(kai)).toMatch(/^From <kai@example\.test>:\n/);
    expect((await json(['comms', 'show', String(kai.id)])).communication.senderHeader).toBe('Reply-To');
    expect((await runCli(['comms', 'show', String(kai.id)], { env })).stdout).toMatch(/from\s+kai@example\.test \(from the Reply-To header\)/);

    // space-in-address: never trial@example.test; the sender is invalid, and said as written.
    const dan = of('support', 'case04.space-address@example.test');
    expect(dan).toMatchObject({ disposition: 'guest-record-created', from: null, senderHeader: 'From' });
    expect(dan.reason).toContain('the sender is invalid: From');
    const danNote = await noteOf(dan);
    expect(danNote).toContain('dan van trial@example.test');
    expect(danNote).not.toContain('<trial@example.test>');
    expect((await runCli(['comms', 'show', String(dan.id)], { env })).stdout).toMatch(/from\s+— \(from the From header, invalid/);
    expect(JSON.stringify(comms)).not.toMatch(/"trial@example\.test"/);

    // The reject policy: a notice to the valid sender from Reply-To; none for the invalid sender.
    expect(of('strict', 'case08.no-from@example.test')).toMatchObject({ disposition: 'rejected', from: 'kai@example.test', senderHeader: 'Reply-To' });
    const strictDan = of('strict', 'case04.space-address@example.test');
    expect(strictDan).toMatchObject({ disposition: 'rejected', from: null, senderHeader: 'From' });
    expect(strictDan.reason).toContain('no notice: the sender is invalid: From');
    const db = await openDatabase(join(env.MAILCTL_HOME, 'mailctl.db'));
    const notices = db.prepare("SELECT to_addrs AS recipients FROM outbound_queue WHERE rule_id = 'inbound-reject'").all() as Array<{ recipients: string }>;
    db.close();
    expect(notices.map((n) => n.recipients)).toEqual(['kai@example.test']);

    // prefix-re-bracket-2, prefix-antw, prefix-tr: every title "Rahmenvertrag Globex".
    for (const id of ['prefix-0@example.test', 'prefix-1@example.test', 'prefix-2@example.test']) {
      const c = of('support', id);
      expect(c, id).toMatchObject({ disposition: 'record-created', from: 'ann@example.test', senderHeader: 'From' });
      expect(await titleOf(c), id).toBe('Rahmenvertrag Globex');
    }
  });
});
