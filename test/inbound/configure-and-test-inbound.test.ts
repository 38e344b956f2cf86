import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { freePort } from '../helpers/free-port.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { simpleMessage } from '../helpers/messages.js';

describe('configure inbound with flags, test-inbound, inbound list and remove (real Dovecot)', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'contracts@acme.test', password: 'c-pass' }, { name: 'support@acme.test', password: 's-pass' }], tls: true });
    dovecot.deliver('contracts@acme.test', simpleMessage({ subject: 'unread one' }));
  });
  afterAll(() => dovecot?.stop());

  async function kb() {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await runCli(['init', '--name', 'acme-test', '--url', 'https://records.acme.test', '--environment', 'test'], { env });
    for (const table of ['contracts', 'support_cases']) await runCli(['tables', 'add', table], { env });
    await runCli(['contacts', 'add', 'guest@acme.test', '--name', 'Email guest', '--guest'], { env });
    return env;
  }
  const imapArgs = (port: number, extra: string[] = []) => ['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(port), '--security', 'none', '--auth', 'password', '--username', 'contracts@acme.test', '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'guest', '--guest', 'guest@acme.test', '--notes', 'new-text', '--after', 'mark-read', ...extra];

  it('saves a verified IMAP and a POP3 account; test-inbound shows ✓ for both; the mailbox is unchanged', async () => {
    const env = await kb();
    const imap = await runCli(imapArgs(dovecot.imapPort), { env, input: 'c-pass\n' });
    expect(imap.code, imap.stdout + imap.stderr).toBe(0);
    expect(imap.stdout).toMatch(/✓ Server 127\.0\.0\.1:\d+ is reachable \(no TLS\)/);
    expect(imap.stdout).toMatch(/✓ The account is valid: folder INBOX, 1 message\(s\), 1 unread/);
    const pop3 = await runCli(['configure', 'inbound', 'support_cases', '--protocol', 'pop3', '--host', '127.0.0.1', '--port', String(dovecot.pop3sPort), '--security', 'tls', '--tls-skip-verify', '--auth', 'password', '--username', 'support@acme.test', '--secret-stdin', '--no-create-records', '--unknown-sender', 'reject', '--notes', 'whole-body', '--after', 'keep'], { env, input: 's-pass' });
    expect(pop3.code, pop3.stdout + pop3.stderr).toBe(0);
    expect(pop3.stderr).toContain('TLS certificate verification is OFF for this account');

    const config = readFileSync(join(env.MAILCTL_HOME, 'config.json'), 'utf8');
    expect(config).not.toContain('c-pass');
    expect(config).not.toContain('s-pass');

    const all = await runCli(['test-inbound'], { env });
    expect(all.code, all.stdout + all.stderr).toBe(0);
    expect(all.stdout).toMatch(/contracts[\s\S]*✓ server: reachable[\s\S]*✓ account is valid: folder INBOX, 1 message\(s\), 1 unread/);
    expect(all.stdout).toMatch(/support_cases[\s\S]*✓ server: reachable, TLSv1\.[23] \(certificate NOT verified\)[\s\S]*✓ account is valid/);
    // Nothing was marked read by the checks.
    expect((await runCli(['test-inbound', 'contracts'], { env })).stdout).toContain('1 unread');

    const list = JSON.parse((await runCli(['inbound', 'list', '--json'], { env })).stdout);
    expect(list.accounts.map((a: { table: string; protocol: string }) => [a.table, a.protocol])).toEqual([['contracts', 'imap'], ['support_cases', 'pop3']]);
    expect(JSON.stringify(list)).not.toContain('secret:');

    const removed = await runCli(['inbound', 'remove', 'support_cases'], { env });
    expect(removed.code).toBe(0);
    expect(Object.keys(JSON.parse(readFileSync(join(env.MAILCTL_HOME, 'config.json'), 'utf8')).inbound)).toEqual(['contracts']);
  });

  it('a failing check saves nothing (exit 1); test-inbound reports ✗ with cause and fix (exit 1, --json)', async () => {
    const env = await kb();
    const wrong = await runCli(imapArgs(dovecot.imapPort), { env, input: 'not-the-password' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/Account check failed during auth/);
    expect(wrong.stdout).toMatch(/cause: The IMAP server refused the login/);
    expect(JSON.parse(readFileSync(join(env.MAILCTL_HOME, 'config.json'), 'utf8')).inbound).toBeUndefined();

    const deadPort = await freePort();
    const unreachable = await runCli(imapArgs(deadPort), { env, input: 'c-pass' });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/Server check failed during connect/);

    // Saved without checks, then tested: ✗ server and a skipped account check.
    expect((await runCli(imapArgs(deadPort, ['--no-verify']), { env, input: 'c-pass' })).code).toBe(0);
    const tested = await runCli(['test-inbound', '--json'], { env });
    expect(tested.code).toBe(1);
    const json = JSON.parse(tested.stdout);
    expect(json).toMatchObject({ ok: false, accounts: [{ table: 'contracts', ok: false, server: { ok: false, report: { phase: 'connect', diagnosis: { id: 'connection-refused' } } }, account: null }] });

    // The folder does not exist.
    expect((await runCli(imapArgs(dovecot.imapPort, ['--folder', 'Contracts', '--no-verify']), { env, input: 'c-pass' })).code).toBe(0);
    const folder = await runCli(['test-inbound', 'contracts'], { env });
    expect(folder.code).toBe(1);
    expect(folder.stdout).toMatch(/✗ account: failed during folder/);
    expect(folder.stdout).toContain('does not exist in the mailbox');
  });

  it('bad input: clear errors, exit 2', async () => {
    const env = await kb();
    const cases: Array<[string[], RegExp]> = [
      [['configure', 'inbound', 'invoices', '--protocol', 'imap'], /no table "invoices"/],
      [imapArgs(dovecot.imapPort, ['--after', 'keep']), /--after keep is not possible with IMAP/],
      [['configure', 'inbound', 'contracts', '--protocol', 'pop3', '--host', 'h', '--security', 'none', '--auth', 'password', '--username', 'u', '--secret-stdin', '--after', 'move', '--no-verify'], /not possible with POP3/],
      [imapArgs(dovecot.imapPort, ['--guest', 'stranger@acme.test', '--no-verify']), /no contact stranger@acme\.test/],
      [['test-inbound', 'nope'], /no inbound account for the table "nope"/],
      [['inbound', 'remove', 'nope'], /no inbound account/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args, { env, input: 'c-pass' });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(message);
    }
  });
});
