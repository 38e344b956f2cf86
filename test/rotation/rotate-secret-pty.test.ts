import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { materializeSecrets } from '../../src/config/property-secrets.js';
import { FileSecretStore } from '../../src/secrets/file-secret-store.js';
import { PtySession } from '../helpers/pty-session.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

describe('rotate-secret on a terminal (pseudo-terminal, real binary)', () => {
  const tempDir = useTempDirs();

  it('asks for the new secret twice at a hidden prompt, asks again when the two differ, then replaces it', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await runCli(['init', '--name', 'acme', '--url', 'https://a.test', '--environment', 'dev'], { env });
    const file = join(env.MAILCTL_HOME, 'p.properties');
    writeFileSync(file, 'client_id=app\nmail.smtp.oauth2.client_secret=OldSecretValue-1234\nclient_secret=OldSecretValue-1234\n');
    expect((await runCli(['configure', 'server', '--host', 'h.test', '--security', 'none', '--auth', 'none', '--from', 'a@a.test', '--properties-file', file, '--no-verify'], { env })).code).toBe(0);

    const s = new PtySession(['rotate-secret', '--no-verify'], env);
    try {
      await s.waitFor('Found: outbound: 2');
      await s.waitFor('New client secret');
      s.type('NewSecretValue-5678\r');
      await s.waitFor('Type it again to confirm');
      s.type('NewSecretValue-5679\r');
      await s.waitFor('The two entries differ');
      await s.waitFor('New client secret');
      s.type('NewSecretValue-5678\r');
      await s.waitFor('Type it again to confirm');
      s.type('NewSecretValue-5678\r');
      await s.waitFor('Rotated the client secret in 2 place(s)');
      expect(await s.exited).toBe(0);
      expect(s.screen).not.toContain('NewSecretValue');
      expect(s.screen).not.toContain('OldSecretValue');
    } finally {
      s.kill();
    }
    const store = new FileSecretStore({ path: join(env.MAILCTL_HOME, 'secrets.enc'), keyPath: join(env.MAILCTL_HOME, 'master.key') });
    const blob = JSON.parse(readFileSync(join(env.MAILCTL_HOME, 'config.json'), 'utf8')).outbound.properties;
    expect(await materializeSecrets(blob, store)).toBe('client_id=app\nmail.smtp.oauth2.client_secret=NewSecretValue-5678\nclient_secret=NewSecretValue-5678\n');
  });
});
