import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../../helpers/dovecot.js';
import { simpleMessage } from '../../helpers/messages.js';
import { runCli } from '../../helpers/run-cli.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

/**
 * Issue 14, item 4 (a message that freezes the daemon): an HTML-only body of megabytes of
 * nested tags ("<b><b><b>…") went whole (cut at max_body_size, 1M characters) through
 * html-to-text, which is superlinear on nesting: ~20–28 s of a blocked event loop per message,
 * no heartbeat, SIGTERM waiting 24 s. Now only the HTML's first 200,000 characters become text.
 */
const user = 'contracts@acme.test';
const nested = (tag: string, bytes: number) => `<html><body><p>Hello from the top.</p>${`<${tag}>`.repeat(Math.floor(bytes / (tag.length + 2)))}</body></html>`;

function htmlOnly(subject: string, html: string): string {
  return [
    'From: Lee <lee@partner.test>', `To: ${user}`, `Subject: ${subject}`, `Message-ID: <${subject.replace(/\W/g, '')}@partner.test>`,
    'Date: Mon, 30 Nov 2026 10:00:00 +0000', 'MIME-Version: 1.0', 'Content-Type: text/html; charset=utf-8', '', html, '',
  ].join('\r\n');
}

describe('HTML built to make html-to-text slow', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: user, password: 'pw' }] });
  });
  afterAll(() => dovecot?.stop());

  it('three 4 MB HTML-only bodies of nested <b>, <div>, <font>: taken in seconds with the text of their start, the next message after them', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    for (const args of [['init', '--name', 'acme', '--url', 'https://records.acme.test', '--environment', 'production'], ['tables', 'add', 'contracts'], ['contacts', 'add', 'guest@acme.test', '--guest']]) {
      expect((await runCli(args, { env })).code).toBe(0);
    }
    const configured = await runCli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none', '--auth', 'password',
      '--username', user, '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'guest', '--guest', 'guest@acme.test', '--notes', 'whole-body', '--after', 'mark-read'], { env, input: 'pw' });
    expect(configured.code, configured.stderr).toBe(0);
    for (const tag of ['b', 'div', 'font']) dovecot.deliver(user, htmlOnly(`nested ${tag}`, nested(tag, 4 * 1024 * 1024)));
    dovecot.deliver(user, simpleMessage({ from: 'lee@partner.test', subject: 'after the HTML', messageId: 'after@partner.test' }));

    const started = Date.now();
    const once = await runCli(['daemon', '--once', '--json'], { env, timeoutMs: 120_000 });
    const took = Date.now() - started;
    expect(once.code, once.stdout + once.stderr).toBe(0);
    expect(JSON.parse(once.stdout).accounts[0].poll).toMatchObject({ processed: 4 });
    // The old code: 20–28 s each. Now about a second each, with start-up and the 12 MB fetch.
    expect(took).toBeLessThan(20_000);
    const comms = JSON.parse((await runCli(['comms', 'list', '--json'], { env })).stdout).communications as Array<{ id: number; subject: string }>;
    for (const tag of ['b', 'div', 'font']) {
      const comm = comms.find((c) => c.subject === `nested ${tag}`)!;
      const shown = JSON.parse((await runCli(['comms', 'show', String(comm.id), '--json'], { env })).stdout) as { text?: string; content?: { text?: string; truncated?: boolean }; truncated?: boolean };
      const text = shown.text ?? shown.content?.text ?? '';
      expect(text, tag).toContain('Hello from the top.');
    }
  }, 150_000);
});
