import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImapFlow } from 'imapflow';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { startPostfix, type Postfix } from '../helpers/postfix.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { parseHeaderBlock } from '../../src/mime/header-block.js';

describe('test-send through a real Postfix into Dovecot, read back over IMAP', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  let postfix: Postfix;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'alice@acme.test', password: 'wonderland' }] });
    postfix = await startPostfix({ domain: 'acme.test', mailboxes: ['alice@acme.test'], mailRoot: join(dovecot.dir, 'mail') });
  });
  afterAll(async () => {
    await postfix?.stop();
    await dovecot?.stop();
  });

  it('delivers the test message with its reference intact', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    expect((await runCli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production'], { env })).code).toBe(0);
    const configured = await runCli(['configure', 'server', '--host', '127.0.0.1', '--port', String(postfix.port), '--security', 'none', '--auth', 'none', '--from', 'records@acme.test'], { env });
    expect(configured.code, configured.stdout + configured.stderr).toBe(0);
    expect(configured.stdout).toMatch(/✓ Connected to 127\.0\.0\.1:\d+ \(no TLS\)/);
    const sent = await runCli(['test-send', '--to', 'alice@acme.test', '--json'], { env });
    expect(sent.code, sent.stdout + sent.stderr).toBe(0);
    const { messageId, response } = JSON.parse(sent.stdout) as { messageId: string; response: string };
    expect(response).toMatch(/^250 .*queued as/);

    const client = new ImapFlow({ host: '127.0.0.1', port: dovecot.imapPort, secure: false, auth: { user: 'alice@acme.test', pass: 'wonderland' }, logger: false });
    await client.connect();
    let raw: Buffer | undefined;
    try {
      const deadline = Date.now() + 15_000;
      while (!raw && Date.now() < deadline) {
        const lock = await client.getMailboxLock('INBOX');
        try {
          for await (const message of client.fetch('1:*', { source: true })) raw = message.source;
        } catch {
          // empty mailbox: "1:*" matches nothing yet
        } finally {
          lock.release();
        }
        if (!raw) await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await client.logout();
    }
    expect(raw, `not delivered; postfix log:\n${postfix.log()}`).toBeDefined();
    const headers = parseHeaderBlock(raw!);
    expect(headers.get('message-id')).toBe(`<${messageId}>`);
    expect(headers.get('received')).toMatch(/mx\.acme\.test/); // it really went through Postfix

    const eml = join(env.MAILCTL_HOME, 'delivered.eml');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(eml, raw!);
    const decoded = JSON.parse((await runCli(['headers', 'decode', eml, '--json'], { env })).stdout);
    expect(decoded).toMatchObject({ ok: true, source: 'header', reference: { kb: 'acme-prod', serverUrl: 'https://records.acme.test', origin: 'test-send' } });
  });
});
