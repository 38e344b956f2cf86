import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { simpleMessage } from '../helpers/messages.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

describe('the notice to a rejected sender', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'contracts@acme.test', password: 'c-pass' }] });
  });
  afterAll(() => dovecot?.stop());

  it('quotes a huge subject short: no 300 KB echo to whoever forged the sender (backscatter)', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await runCli(['init', '--name', 'acme', '--url', 'https://records.acme.test', '--environment', 'production'], { env });
    await runCli(['tables', 'add', 'contracts'], { env });
    await runCli(['configure', 'server', '--host', '127.0.0.1', '--port', '2525', '--security', 'none', '--auth', 'none', '--from', 'contracts@acme.test', '--no-verify'], { env });
    const configured = await runCli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none', '--auth', 'password',
      '--username', 'contracts@acme.test', '--secret-stdin', '--folder', 'INBOX', '--no-create-records', '--unknown-sender', 'reject', '--notes', 'new-text', '--after', 'mark-read'], { env, input: 'c-pass' });
    expect(configured.code, configured.stderr).toBe(0);
    const subject = `Offer ${'x'.repeat(300 * 1024)}`;
    dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'spoofed@victim.test', subject, messageId: 'big-subject@elsewhere.test' }));
    const once = await runCli(['daemon', '--once'], { env, timeoutMs: 60_000 });
    expect(once.stdout + once.stderr).toContain('1 processed (1 rejected)');

    const db = await openDatabase(join(env.MAILCTL_HOME, 'mailctl.db'));
    const notice = db.prepare("SELECT to_addrs AS recipients, subject, body FROM outbound_queue WHERE rule_id = 'inbound-reject'").get() as { recipients: string; subject: string; body: string };
    db.close();
    expect(notice.recipients).toBe('spoofed@victim.test');
    // The subject is ours alone; the body quotes 60 characters of theirs at most.
    expect(notice.subject).toBe('Not accepted: your message to contracts');
    expect(notice.body.length).toBeLessThan(500);
    expect(notice.body).toContain(`Your message "Offer ${'x'.repeat(53)}…" to contracts was not accepted`);
  });
});
