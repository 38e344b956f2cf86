import { ImapFlow } from 'imapflow';
import { afterEach, describe, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { simpleMessage } from '../helpers/messages.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

/**
 * "Nothing leaves a mailbox before it is stored, and nothing of anyone else's leaves it at
 * all": moves and deletes touch only our UIDs, on real Dovecot with and without MOVE/UIDPLUS.
 */
describe('mailbox safety: move and delete never expunge a colleague\'s \\Deleted message (real Dovecot)', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot | undefined;
  afterEach(async () => {
    await dovecot?.stop();
    dovecot = undefined;
  });

  const users = [{ name: 'contracts@acme.test', password: 'c-pass' }, { name: 'support@acme.test', password: 's-pass' }];
  const colleague = simpleMessage({ from: 'boss@acme.test', subject: 'Colleague: to be deleted', messageId: 'colleague@acme.test', body: 'Flagged \\Deleted by a colleague, not expunged yet.' });
  const ours = (box: string, n: number) => simpleMessage({ from: 'pat@acme.test', subject: `${box} ${n}`, messageId: `${box}-${n}@acme.test` });
  const ids = (messages: Array<{ raw: string; flags: string }>) => messages.map((m) => [/^Message-ID: <([^>]+)>/m.exec(m.raw)?.[1], m.flags]).sort();

  /** An installation with two accounts on `server`: contracts moves to Processed, support deletes. */
  async function install(server: Dovecot) {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const cli = (args: string[], input?: string) => runCli(args, { env, ...(input !== undefined ? { input } : {}) });
    await cli(['init', '--name', 'acme-test', '--url', 'https://records.acme.test', '--environment', 'test']);
    await cli(['tables', 'add', 'contracts']);
    await cli(['tables', 'add', 'support']);
    await cli(['contacts', 'add', 'pat@acme.test', '--name', 'Pat Lee', '--can-create', 'contracts']);
    const common = ['--protocol', 'imap', '--host', '127.0.0.1', '--port', String(server.imapPort), '--security', 'none', '--auth', 'password', '--secret-stdin', '--folder', 'INBOX',
      '--create-records', '--unknown-sender', 'ignore', '--notes', 'new-text'];
    const moved = await cli(['configure', 'inbound', 'contracts', ...common, '--username', 'contracts@acme.test', '--after', 'move', '--move-to', 'Processed'], 'c-pass');
    expect(moved.code, moved.stdout + moved.stderr).toBe(0);
    expect(moved.stdout).toContain('The move folder "Processed" exists.');
    const deleted = await cli(['configure', 'inbound', 'support', ...common, '--username', 'support@acme.test', '--after', 'delete'], 's-pass');
    expect(deleted.code, deleted.stdout + deleted.stderr).toBe(0);
    const json = async (args: string[]) => {
      const r = await cli([...args, '--json']);
      return { code: r.code, body: JSON.parse(r.stdout), stderr: r.stderr };
    };
    return { env, cli, json };
  }

  function deliverAll(server: Dovecot) {
    for (const [user, box] of [['contracts@acme.test', 'contracts'], ['support@acme.test', 'support']] as const) {
      server.deliver(user, colleague, undefined, { flags: 'T' }); // unread, \Deleted
      server.deliver(user, ours(box, 1));
      server.deliver(user, ours(box, 2));
    }
  }

  it('without MOVE and UIDPLUS: ours are copied and flagged \\Deleted \\Seen, the colleague\'s message survives, status and doctor say so, later polls leave them alone', async () => {
    dovecot = await startDovecot({ users, folders: ['Processed'], imapCapabilitiesWithout: ['MOVE', 'UIDPLUS'] });
    const { cli, json } = await install(dovecot);
    deliverAll(dovecot);

    const first = await json(['daemon', '--once']);
    expect(first.code, first.stderr).toBe(0); // the mail was taken; the mailbox state is a warning, not a failure
    // No bare EXPUNGE: the colleague's message is still there, still unread and \Deleted.
    expect(ids(dovecot.messages('contracts@acme.test'))).toEqual([['colleague@acme.test', 'T'], ['contracts-1@acme.test', 'ST'], ['contracts-2@acme.test', 'ST']]);
    expect(ids(dovecot.messages('contracts@acme.test', 'Processed')).map(([id]) => id)).toEqual(['contracts-1@acme.test', 'contracts-2@acme.test']);
    expect(ids(dovecot.messages('support@acme.test'))).toEqual([['colleague@acme.test', 'T'], ['support-1@acme.test', 'ST'], ['support-2@acme.test', 'ST']]);

    const byTable = Object.fromEntries(first.body.accounts.map((a: { table: string }) => [a.table, a]));
    // The colleague's \Deleted message is not even listed: it is on its way out, and not ours.
    expect(byTable.contracts).toMatchObject({ status: 'ok', poll: { listed: 2, processed: 2, marks: { marked: 2, leftFlagged: 2, failed: 0 } } });
    expect(byTable.support).toMatchObject({ status: 'ok', poll: { listed: 2, processed: 2, marks: { marked: 2, leftFlagged: 2, failed: 0 } } });
    // Dovecot counts expunges per session at logout: none at all.
    expect(dovecot.log()).toMatch(/expunged=0/);
    expect(dovecot.log()).not.toMatch(/expunged=[1-9]/);

    const status = await cli(['status']);
    expect(status.stdout).toMatch(/contracts \(imap\): .*✓ ok\n\s+⚠ the server has neither MOVE nor UIDPLUS: processed messages are copied to "Processed", then flagged \\Deleted \\Seen and left in INBOX \(2 message\(s\)/);
    expect(status.stdout).toMatch(/support \(imap\): .*✓ ok\n\s+⚠ the server has no UIDPLUS: processed messages are flagged \\Deleted \\Seen and left in INBOX/);
    const statusJson = await json(['status']);
    expect(statusJson.body.accounts.find((a: { table: string }) => a.table === 'contracts').markWarning).toMatchObject({ kind: 'left-flagged', action: 'move', messages: 2 });

    const doctor = await json(['doctor', '--only', 'inbound', '--no-network']);
    const findings = doctor.body.findings.filter((f: { check: string }) => f.check === 'inbound.mailbox-marking');
    expect(findings).toHaveLength(2);
    expect(findings[0]).toMatchObject({ severity: 'warning', title: 'contracts: processed messages are flagged \\Deleted and left in INBOX, not moved', command: 'mailctl configure inbound contracts --after mark-read' });
    expect(findings[0].cause).toContain('neither MOVE nor UIDPLUS');
    expect(findings[0].cause).toContain('bare EXPUNGE');
    expect(findings[0].fix).toMatch(/Expunge INBOX yourself/);
    expect(findings[1]).toMatchObject({ severity: 'warning', title: 'support: processed messages are flagged \\Deleted and left in INBOX, not deleted' });
    const doctorText = await cli(['doctor', '--only', 'inbound', '--no-network']);
    expect(doctorText.stdout).toContain('processed messages are flagged \\Deleted and left in INBOX, not moved');

    // A regular poll and a full sweep: nothing re-taken, nothing copied or flagged again.
    for (const args of [['daemon', '--once'], ['daemon', '--once', '--sweep']]) {
      const again = await json(args);
      expect(again.code).toBe(0);
      for (const a of again.body.accounts) expect(a.poll, args.join(' ')).toMatchObject({ listed: 0, processed: 0, alreadyTaken: 0, marks: { marked: 0 } });
    }
    expect(dovecot.messages('contracts@acme.test', 'Processed')).toHaveLength(2);
    expect(ids(dovecot.messages('contracts@acme.test'))).toEqual([['colleague@acme.test', 'T'], ['contracts-1@acme.test', 'ST'], ['contracts-2@acme.test', 'ST']]);
    const comms = (await json(['comms', 'list'])).body.communications;
    expect(comms.map((c: { messageId: string }) => c.messageId).sort()).toEqual(['contracts-1@acme.test', 'contracts-2@acme.test', 'support-1@acme.test', 'support-2@acme.test']);
    // The warning stays while it is true: polls that marked nothing do not clear it.
    expect((await json(['status'])).body.accounts.every((a: { markWarning: unknown }) => a.markWarning !== null)).toBe(true);
  });

  it('with MOVE and UIDPLUS: ours are moved (UID MOVE) or deleted (UID EXPUNGE), the colleague\'s message survives, no warning', async () => {
    dovecot = await startDovecot({ users, folders: ['Processed'] });
    const { cli, json } = await install(dovecot);
    deliverAll(dovecot);

    const first = await json(['daemon', '--once']);
    expect(first.code, first.stderr).toBe(0);
    for (const a of first.body.accounts) expect(a.poll).toMatchObject({ listed: 2, processed: 2, marks: { marked: 2, leftFlagged: 0, failed: 0, warning: null } });
    expect(ids(dovecot.messages('contracts@acme.test'))).toEqual([['colleague@acme.test', 'T']]);
    expect(ids(dovecot.messages('contracts@acme.test', 'Processed'))).toEqual([['contracts-1@acme.test', ''], ['contracts-2@acme.test', '']]);
    expect(ids(dovecot.messages('support@acme.test'))).toEqual([['colleague@acme.test', 'T']]);

    const status = await cli(['status']);
    expect(status.stdout).not.toContain('⚠');
    expect(status.stdout).toMatch(/contracts \(imap\): .*✓ ok/);
    const doctor = await json(['doctor', '--only', 'inbound', '--no-network']);
    expect(doctor.body.findings.filter((f: { check: string }) => f.check === 'inbound.mailbox-marking')).toEqual([]);
    expect(doctor.body.passed.map((p: { summary: string }) => p.summary)).toContain('inbound contracts: "move" after processing does what it says');

    const sweep = await json(['daemon', '--once', '--sweep']);
    for (const a of sweep.body.accounts) expect(a.poll).toMatchObject({ listed: 0, processed: 0 });
    expect(ids(dovecot.messages('contracts@acme.test'))).toEqual([['colleague@acme.test', 'T']]);
  });

  it('a move the server refuses (the folder was deleted) is a failure in daemon --once, status and doctor; the mail is kept and moved once the folder is back', async () => {
    dovecot = await startDovecot({ users, folders: ['Processed'] });
    const { cli, json } = await install(dovecot);
    dovecot.deliver('contracts@acme.test', ours('contracts', 1));
    dovecot.deliver('contracts@acme.test', ours('contracts', 2));
    // Someone removes the folder after the account was set up.
    const imap = new ImapFlow({ host: '127.0.0.1', port: dovecot.imapPort, secure: false, auth: { user: 'contracts@acme.test', pass: 'c-pass' }, logger: false } as ConstructorParameters<typeof ImapFlow>[0]);
    await imap.connect();
    await imap.mailboxDelete('Processed');
    await imap.logout();

    const first = await json(['daemon', '--once']);
    expect(first.code).toBe(1);
    const contracts = first.body.accounts.find((a: { table: string }) => a.table === 'contracts');
    expect(contracts).toMatchObject({ status: 'ok', poll: { processed: 2, marks: { marked: 0, failed: 2 } } });
    expect(contracts.poll.marks.warning).toMatch(/The server refused to move them to "Processed" \(2 message\(s\)\): .*(TRYCREATE|doesn't exist)/);
    const text = await cli(['daemon', '--once']);
    expect(text.code).toBe(1);
    expect(text.stderr + text.stdout).toMatch(/contracts: 2 listed, 0 processed, 2 already taken; marking 2 message\(s\) done FAILED \(they are stored, and marked again next poll\)/);
    // Kept in the INBOX, unread, and stored once.
    expect(ids(dovecot.messages('contracts@acme.test'))).toEqual([['contracts-1@acme.test', ''], ['contracts-2@acme.test', '']]);
    expect((await json(['comms', 'list'])).body.communications).toHaveLength(2);

    const status = await cli(['status']);
    expect(status.stdout).not.toMatch(/contracts \(imap\): .*✓/);
    expect(status.stdout).toMatch(/contracts \(imap\): .*✗ mail taken, but "move" failed for 2 message\(s\)/);
    const doctor = await json(['doctor', '--only', 'inbound', '--no-network']);
    expect(doctor.code).toBe(1);
    const finding = doctor.body.findings.find((f: { check: string }) => f.check === 'inbound.mailbox-marking');
    expect(finding).toMatchObject({ severity: 'error', title: 'contracts: "move" after processing failed; the messages are stored but still in INBOX', command: 'mailctl configure inbound contracts --after move --move-to Processed --create-folder' });
    expect(finding.cause).toContain('The move folder "Processed" does not exist (any more)');

    // The fix doctor names: the folder is created, the next poll moves what was kept.
    const fixed = await cli(['configure', 'inbound', 'contracts', '--after', 'move', '--move-to', 'Processed', '--create-folder']);
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0);
    expect(fixed.stdout).toContain('Created the folder "Processed" on the server.');
    const after = await json(['daemon', '--once']);
    expect(after.code).toBe(0);
    expect(after.body.accounts.find((a: { table: string }) => a.table === 'contracts').poll).toMatchObject({ alreadyTaken: 2, processed: 0, marks: { marked: 2, failed: 0 } });
    expect(dovecot.messages('contracts@acme.test')).toEqual([]);
    expect(dovecot.messages('contracts@acme.test', 'Processed')).toHaveLength(2);
    expect((await json(['comms', 'list'])).body.communications).toHaveLength(2);
    expect((await cli(['status'])).stdout).toMatch(/contracts \(imap\): .*✓ ok/);
    expect((await json(['doctor', '--only', 'inbound', '--no-network'])).body.findings.filter((f: { check: string }) => f.check === 'inbound.mailbox-marking')).toEqual([]);
  });

  it('configure inbound checks the move folder: a script fails naming --create-folder, and --create-folder creates it', async () => {
    dovecot = await startDovecot({ users });
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await runCli(['init', '--name', 'acme-test', '--url', 'https://records.acme.test', '--environment', 'test'], { env });
    await runCli(['tables', 'add', 'contracts'], { env });
    const args = ['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none', '--auth', 'password',
      '--username', 'contracts@acme.test', '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore', '--notes', 'new-text', '--after', 'move', '--move-to', 'Done/2026'];
    const missing = await runCli(args, { env, input: 'c-pass' });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('There is no folder "Done/2026" on the server: processed messages could not be moved there. Nothing was saved.');
    expect(missing.stderr).toContain('--create-folder');
    expect((await runCli(['inbound', 'list', '--json'], { env })).stdout).not.toContain('contracts@acme.test');

    const created = await runCli([...args, '--create-folder'], { env, input: 'c-pass' });
    expect(created.code, created.stdout + created.stderr).toBe(0);
    expect(created.stdout).toContain('Created the folder "Done/2026" on the server.');
    expect(created.stdout).toContain('after processing: move to Done/2026');
    // It is there for the server: a second run finds it.
    const again = await runCli(args, { env, input: 'c-pass' });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain('The move folder "Done/2026" exists.');
  });
});
