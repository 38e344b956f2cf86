import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { runCli } from '../helpers/run-cli.js';
import { startSilentServer, startSmtpSink } from '../helpers/smtp-sink.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { makeSelfSignedCert, type TestCert } from '../helpers/tls-cert.js';
import { parseHeaderBlock } from '../../src/mime/header-block.js';

const password = 'Sm7p-pa55word!';

describe('mailctl test-send against a real SMTP server', () => {
  const tempDir = useTempDirs();
  let cert: TestCert;
  beforeAll(() => {
    cert = makeSelfSignedCert(mkdtempSync(join(tmpdir(), 'mailctl-cert-')));
  });

  /** A fresh KB whose outbound server is 127.0.0.1:port, saved without verification. */
  async function kbWithServer(port: number, extra: string[] = [], auth: 'password' | 'none' = 'password') {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    expect((await runCli(['init', '--name', 'acme-test', '--url', 'https://records.acme.test', '--environment', 'test'], { env })).code).toBe(0);
    const args = ['configure', 'server', '--host', '127.0.0.1', '--port', String(port), '--security', 'none', '--auth', auth, '--from', 'records@acme.test', '--no-verify', ...extra];
    if (auth === 'password') args.push('--username', 'records@acme.test', '--secret-stdin');
    const configured = await runCli(args, { env, input: auth === 'password' ? `${password}\n` : '' });
    expect(configured.code, configured.stderr).toBe(0);
    return env;
  }

  const send = (env: Record<string, string>, ...extra: string[]) => runCli(['test-send', '--to', 'pat@acme.test', '--timeout', '2s', ...extra], { env });

  it('succeeds: a success line, the Message-ID, and the note that the server is the suspect if it never arrives', async () => {
    const sink = await startSmtpSink({ auth: { user: 'records@acme.test', pass: password } });
    try {
      const env = await kbWithServer(sink.port);
      const result = await send(env);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/✓ Test message accepted by 127\.0\.0\.1:\d+/);
      expect(result.stdout).toContain('250 Ok: queued as TEST1');
      expect(result.stdout).toContain('the outbound server itself is the suspect');
      expect(sink.messages).toHaveLength(1);
      expect(sink.messages[0]!.to).toEqual(['pat@acme.test']);
      const headers = parseHeaderBlock(sink.messages[0]!.raw);
      expect(headers.get('x-mailctl-ref')).toMatch(/^[A-Za-z0-9_-]{100,}$/);
      expect(headers.get('message-id')).toMatch(/^<mc\.[A-Za-z0-9_-]{100,}@records\.acme\.test>$/);
      expect(headers.get('subject')).toMatch(/^mailctl test message from acme-test \[ref:[A-Za-z0-9_-]{34}\]$/);
      // The admin's decoder reads it back: KB, URL and origin.
      const { writeFileSync } = await import('node:fs');
      const eml = join(env.MAILCTL_HOME, 'received.eml');
      writeFileSync(eml, sink.messages[0]!.raw);
      const decoded = JSON.parse((await runCli(['headers', 'decode', eml, '--json'], { env })).stdout);
      expect(decoded).toMatchObject({ ok: true, source: 'header', reference: { kb: 'acme-test', serverUrl: 'https://records.acme.test', origin: 'test-send', table: null, recordId: null } });
    } finally {
      await sink.close();
    }
  });

  it('--transcript shows the conversation with the password hidden; --json has the same facts', async () => {
    const sink = await startSmtpSink({ auth: { user: 'records@acme.test', pass: password } });
    try {
      const env = await kbWithServer(sink.port);
      const result = await send(env, '--transcript');
      expect(result.stdout).toMatch(/^C: EHLO /m);
      expect(result.stdout).toMatch(/^C: AUTH PLAIN «hidden»$/m);
      expect(result.stdout).toMatch(/^S: 235 /m);
      expect(result.stdout).not.toContain(password);
      expect(result.stdout).not.toContain(Buffer.from(`\0records@acme.test\0${password}`).toString('base64'));
      const json = JSON.parse((await send(env, '--json', '--transcript')).stdout);
      expect(json).toMatchObject({ ok: true, completed: 'sent', response: expect.stringContaining('250') });
      expect(JSON.stringify(json)).not.toContain(password);
    } finally {
      await sink.close();
    }
  });

  it('--quit-after auth logs in and sends nothing; --quit-after recipient tests the envelope and sends nothing', async () => {
    const sink = await startSmtpSink({ auth: { user: 'records@acme.test', pass: password } });
    try {
      const env = await kbWithServer(sink.port);
      const auth = await send(env, '--quit-after', 'auth');
      expect(auth.code).toBe(0);
      expect(auth.stdout).toMatch(/Stopped after auth as asked: connected to .* and logged in\. Nothing was sent\./);
      const rcpt = await send(env, '--quit-after', 'recipient');
      expect(rcpt.code, rcpt.stderr).toBe(0);
      expect(rcpt.stdout).toContain('accepted the login, the sender and the recipient');
      expect(sink.messages).toHaveLength(0);
    } finally {
      await sink.close();
    }
  });

  it('connection refused: phase connect, exit 10, names the cause', async () => {
    const env = await kbWithServer(await freePort());
    const result = await send(env);
    expect(result.code).toBe(10);
    expect(result.stderr).toContain('phase connect');
    expect(result.stdout).toMatch(/cause: Nothing accepts connections on 127\.0\.0\.1:\d+/);
    const json = JSON.parse((await send(env, '--json')).stdout);
    expect(json).toMatchObject({ ok: false, phase: 'connect', exitCode: 10, detailCode: 'ECONNREFUSED', diagnosis: { id: 'connection-refused' } });
  });

  it('a server that never greets: phase greeting, exit 12, within the timeout', async () => {
    const silent = await startSilentServer();
    try {
      const env = await kbWithServer(silent.port);
      const started = Date.now();
      const result = await send(env);
      expect(Date.now() - started).toBeLessThan(8000);
      expect(result.code).toBe(12);
      expect(result.stdout).toContain('never sent its greeting');
      expect(result.stdout).toMatch(/security mode probably does not match the port/);
    } finally {
      await silent.close();
    }
  });

  it('STARTTLS required but not offered: phase tls, exit 11', async () => {
    const sink = await startSmtpSink({});
    try {
      const env = await kbWithServer(sink.port, ['--security', 'starttls'], 'none');
      const result = await send(env);
      expect(result.code).toBe(11);
      expect(result.stdout).toContain('does not offer it');
      expect(sink.messages).toHaveLength(0);
    } finally {
      await sink.close();
    }
  });

  it('a self-signed certificate is rejected by default (exit 11) and accepted only with the per-server flag', async () => {
    for (const mode of ['starttls', 'tls'] as const) {
      const sink = await startSmtpSink({ secure: mode === 'tls', starttls: mode === 'starttls', cert: { cert: cert.cert, key: cert.key } });
      try {
        const env = await kbWithServer(sink.port, ['--security', mode], 'none');
        const rejected = await send(env, '--json');
        expect(rejected.code, mode).toBe(11);
        expect(JSON.parse(rejected.stdout)).toMatchObject({ phase: 'tls', diagnosis: { id: 'tls-self-signed' } });
        expect(sink.messages).toHaveLength(0);

        const flagged = await runCli(['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', mode, '--auth', 'none', '--from', 'records@acme.test', '--tls-skip-verify'], { env });
        expect(flagged.code, flagged.stderr).toBe(0);
        expect(flagged.stderr).toContain('TLS certificate verification is OFF for this server');
        const accepted = await send(env);
        expect(accepted.code, accepted.stderr).toBe(0);
        expect(accepted.stdout).toContain('certificate NOT verified');
        expect(sink.messages).toHaveLength(1);
      } finally {
        await sink.close();
      }
    }
  });

  it('535 auth failure: phase auth, exit 13, with the server\'s words', async () => {
    const sink = await startSmtpSink({ auth: { user: 'records@acme.test', pass: 'something else' } });
    try {
      const env = await kbWithServer(sink.port);
      const result = await send(env);
      expect(result.code).toBe(13);
      expect(result.stdout).toMatch(/server said: 535 /);
      expect(result.stdout).toContain('The server refused the login');
    } finally {
      await sink.close();
    }
  });

  it('Microsoft 535 5.7.139: SMTP AUTH disabled for the tenant', async () => {
    const sink = await startSmtpSink({ auth: { user: 'x', pass: 'y', failWith: '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.' } });
    try {
      const result = await send(await kbWithServer(sink.port));
      expect(result.code).toBe(13);
      expect(result.stdout).toContain('SmtpClientAuthenticationDisabled');
    } finally {
      await sink.close();
    }
  });

  it('550 sender rejected: exit 14; 550 recipient rejected: exit 15', async () => {
    const senderSink = await startSmtpSink({ rejectSender: '550 5.7.60 SMTP; Client does not have permissions to send as this sender' });
    const recipientSink = await startSmtpSink({ rejectRecipient: '550 5.1.1 <pat@acme.test>: Recipient address rejected: User unknown' });
    try {
      const sender = await send(await kbWithServer(senderSink.port, [], 'none'));
      expect(sender.code).toBe(14);
      expect(sender.stdout).toContain('may not send with this from-address');
      const recipient = await send(await kbWithServer(recipientSink.port, [], 'none'), '--json');
      expect(recipient.code).toBe(15);
      expect(JSON.parse(recipient.stdout)).toMatchObject({ phase: 'recipient', responseCode: 550, serverSaid: expect.stringContaining('User unknown'), diagnosis: { id: 'smtp-recipient-unknown' } });
    } finally {
      await senderSink.close();
      await recipientSink.close();
    }
  });

  it('552 size exceeded after DATA: exit 17; an advertised SIZE smaller than the message: refused before sending, exit 18', async () => {
    const rejecting = await startSmtpSink({ rejectData: '552 5.3.4 Message size exceeds fixed maximum message size' });
    const small = await startSmtpSink({ size: 200 });
    try {
      const after = await send(await kbWithServer(rejecting.port, [], 'none'));
      expect(after.code).toBe(17);
      expect(after.stdout).toContain('larger than the server accepts');
      const before = await send(await kbWithServer(small.port, [], 'none'));
      expect(before.code).toBe(18);
      expect(before.stderr).toMatch(/over the server's SIZE limit of 200 bytes/);
      expect(small.messages).toHaveLength(0);
    } finally {
      await rejecting.close();
      await small.close();
    }
  });

  it('bad input: no server configured (exit 3), a bad --to or --timeout (exit 2)', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await runCli(['init', '--name', 'a', '--url', 'https://a.test', '--environment', 'dev'], { env });
    const none = await send(env);
    expect(none.code).toBe(3);
    expect(none.stderr).toContain('mailctl configure server');
    expect((await runCli(['test-send', '--to', 'nobody'], { env })).code).toBe(2);
    expect((await runCli(['test-send', '--to', 'a@b.test', '--timeout', 'soon'], { env })).code).toBe(2);
    expect((await runCli(['test-send', '--to', 'a@b.test', '--quit-after', 'data'], { env })).code).toBe(2);
  });
});

