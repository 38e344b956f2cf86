import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PtySession, plain } from '../helpers/pty-session.js';
import { useTempDirs } from '../helpers/temp-dir.js';

describe('mailctl init on a terminal (pseudo-terminal, real binary)', () => {
  const tempDir = useTempDirs();

  it('asks each question, re-asks after a bad answer, and saves the KB', async () => {
    const home = tempDir();
    const session = new PtySession(['init'], { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' });
    try {
      await session.waitFor('KB name');
      session.type('Acme Prod\r');
      await session.waitFor(/use lower-case letters/);
      session.type('\x15'); // Ctrl-U clears the line
      session.type('acme-prod\r');
      await session.waitFor('Server URL');
      session.type('records.acme.test\r');
      await session.waitFor(/not a URL/);
      session.type('\x15https://records.acme.test\r');
      await session.waitFor('Environment');
      session.type('\x1b[B'); // arrow down: production → test
      await session.waitFor(/nothing is sent unless redirected/);
      session.type('\r');
      await session.waitFor('Created KB "acme-prod" (test)');
      expect(await session.exited).toBe(0);
    } finally {
      session.kill();
    }
    const config = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'));
    expect(config.kb).toMatchObject({ name: 'acme-prod', url: 'https://records.acme.test', environment: 'test', activeRefKeyId: 'k1' });
  });

  it('uses colour on a terminal, and none with NO_COLOR', async () => {
    const raw = async (env: Record<string, string>) => {
      const session = new PtySession(['config', 'set', 'max_body_size', '2MB'], { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file', ...env });
      await session.exited;
      return session;
    };
    const coloured = await raw({});
    const uncoloured = await raw({ NO_COLOR: '1' });
    expect(coloured.screen).toContain('max_body_size = 2MB');
    expect(coloured.rawOutput).toContain('\u001b[32m✓'); // a green tick
    expect(uncoloured.rawOutput).not.toContain('\u001b[');
    expect(plain(uncoloured.rawOutput)).toContain('✓ max_body_size = 2MB');
  });
});
