import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PtySession } from '../helpers/pty-session.js';
import { runCli } from '../helpers/run-cli.js';
import { startSmtpSink } from '../helpers/smtp-sink.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const down = '\x1b[B';
const clearLine = '\x15';

describe('mailctl configure server on a terminal (pseudo-terminal, real binary)', () => {
  const tempDir = useTempDirs();

  it('walks the wizard, shows a failed login at the top, lets the admin fix it, saves, and test-send then works', async () => {
    const sink = await startSmtpSink({ auth: { user: 'records@acme.test', pass: 'correct-horse' } });
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    try {
      expect((await runCli(['init', '--name', 'acme-test', '--url', 'https://records.acme.test', '--environment', 'test'], { env })).code).toBe(0);
      const s = new PtySession(['configure', 'server'], env);
      try {
        await s.waitFor('Mail provider');
        s.type(`${down}${down}\r`); // Another SMTP server
        await s.waitFor('SMTP host');
        s.type('127.0.0.1\r');
        await s.waitFor('Security');
        s.type(`${down}${down}\r`); // none
        await s.waitFor('Port');
        s.type(`${clearLine}${sink.port}\r`);
        await s.waitFor('Authentication');
        s.type('\r'); // user name and password
        await s.waitFor('User name');
        s.type('records@acme.test\r');
        await s.waitFor('Password');
        s.type('wrong-password\r');
        await s.waitFor('From-address');
        s.type('\r'); // defaults to the user name
        await s.waitFor('Edit the custom configuration properties?');
        s.type('\r'); // no
        await s.waitFor(/Verification failed while logging in \(phase auth\)/);
        await s.waitFor('The server refused the login');
        await s.waitFor('What now?');
        expect(s.screen).not.toContain('wrong-password'); // the hidden prompt showed only *
        s.type('\r'); // Change the settings
        for (const question of ['SMTP host', 'Security', 'Port', 'Authentication', 'User name']) {
          await s.waitFor(question);
          s.type('\r'); // keep
        }
        await s.waitFor('Password');
        s.type('correct-horse\r');
        await s.waitFor('From-address');
        s.type('\r');
        await s.waitFor(/✓ Connected to 127\.0\.0\.1:\d+ \(no TLS\) and logged in as records@acme\.test/);
        await s.waitFor('Saved the outbound server');
        expect(await s.exited).toBe(0);
      } finally {
        s.kill();
      }
      const config = readFileSync(join(env.MAILCTL_HOME, 'config.json'), 'utf8');
      expect(config).not.toContain('correct-horse');
      expect(JSON.parse(config).outbound).toMatchObject({ host: '127.0.0.1', port: sink.port, security: 'none', from: 'records@acme.test', auth: { type: 'password', username: 'records@acme.test' } });

      const sent = await runCli(['test-send', '--to', 'pat@acme.test'], { env });
      expect(sent.code, sent.stderr).toBe(0);
      expect(sink.messages).toHaveLength(1);
    } finally {
      await sink.close();
    }
  });
});
