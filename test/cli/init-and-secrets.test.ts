import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const initArgs = ['init', '--name', 'acme-test', '--url', 'https://records.acme.test/', '--environment', 'test'];
const secret = 'Zq8Q~N3w.Secret_Value-0123456789abcdef';
const properties = [
  '# Microsoft 365\n',
  'mail.smtp.oauth2.client_id=11111111-2222-3333-4444-555555555555\n',
  `mail.smtp.oauth2.client_secret=${secret}\n`,
  `mail.imap.oauth2.client_secret=${secret}\n`,
  `client_secret=${secret}\n`,
  'mail.smtp.password=pa55-word-xyz\n',
].join('');

/** Every file mailctl wrote, as text, for leak checks. */
function allFilesText(dir: string): string {
  return readdirSync(dir).map((name) => readFileSync(join(dir, name)).toString('latin1')).join('\n');
}

describe('init and the secret store, through the real binary', () => {
  const tempDir = useTempDirs();

  it('without a Secret Service: the encrypted file store, and no secret in clear anywhere', async () => {
    const home = tempDir();
    const env = { MAILCTL_HOME: home };
    const init = await runCli([...initArgs, '--json'], { env });
    expect(init.code).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ ok: true, kb: { name: 'acme-test', url: 'https://records.acme.test', environment: 'test', refKeyIds: ['k1'] }, secretBackend: 'file' });

    const status = JSON.parse((await runCli(['secrets', 'status', '--json'], { env })).stdout);
    expect(status).toMatchObject({ backend: 'file', recorded: true });

    const file = join(home, 'in.properties');
    writeFileSync(file, properties);
    const set = await runCli(['properties', 'set', 'outbound', '--file', file], { env });
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/4 secret value\(s\) kept in the file store/);

    const configText = readFileSync(join(home, 'config.json'), 'utf8');
    expect(configText).not.toContain(secret);
    expect(configText).not.toContain('pa55-word-xyz');
    expect(configText).toContain('mail.smtp.oauth2.client_id=11111111-2222-3333-4444-555555555555');
    expect(statSync(join(home, 'config.json')).mode & 0o777).toBe(0o600);
    // Nothing mailctl keeps (config, db, secret file) holds a secret in clear.
    writeFileSync(file, '');
    expect(allFilesText(home)).not.toContain(secret.slice(0, 20));

    const shown = await runCli(['properties', 'show', 'outbound'], { env });
    expect(shown.stdout).toContain('mail.smtp.oauth2.client_secret=********cdef\n');
    expect(shown.stdout).toContain('mail.smtp.password=********-xyz\n');
    expect(shown.stdout).not.toContain(secret);
  });

  it('with gnome-keyring on the session bus: the keyring, nothing written to a secret file', async () => {
    const home = tempDir();
    const env = { MAILCTL_HOME: home, ...inject('keyringEnv') };
    const before = JSON.parse((await runCli(['secrets', 'status', '--json'], { env })).stdout);
    expect(before).toMatchObject({ backend: 'keyring', recorded: false, reason: expect.stringMatching(/Secret Service keyring answered/) });

    expect((await runCli(initArgs, { env })).code).toBe(0);
    const file = join(home, 'in.properties');
    writeFileSync(file, properties);
    expect((await runCli(['properties', 'set', 'outbound', '--file', '-'], { env, input: properties })).code).toBe(0);
    expect(existsSync(join(home, 'secrets.enc'))).toBe(false);
    writeFileSync(file, '');
    expect(allFilesText(home)).not.toContain(secret.slice(0, 20));
    const shown = await runCli(['properties', 'show', 'outbound', '--json'], { env });
    expect(JSON.parse(shown.stdout).properties).toContain('client_secret=********cdef');

    // The choice is recorded: losing the keyring later is an error, not an empty store.
    const lost = await runCli(['properties', 'show', 'outbound'], { env: { MAILCTL_HOME: home } });
    expect(lost.code).toBe(4);
    expect(lost.stderr).toMatch(/kept in the keyring, but it cannot be used/);
  });

  it('MAILCTL_SECRET_BACKEND=file wins over an available keyring; a bad value is a usage error', async () => {
    const home = tempDir();
    const status = JSON.parse((await runCli(['secrets', 'status', '--json'], { env: { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file', ...inject('keyringEnv') } })).stdout);
    expect(status).toMatchObject({ backend: 'file', reason: 'MAILCTL_SECRET_BACKEND=file' });
    const bad = await runCli(['secrets', 'status'], { env: { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'vault' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('expected "keyring" or "file"');
  });

  it('init refuses to redo an existing KB without --force, and asks for flags when there is no terminal', async () => {
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    const noTty = await runCli(['init', '--name', 'acme'], { env });
    expect(noTty.code).toBe(2);
    expect(noTty.stderr).toContain('pass --url');
    expect((await runCli(initArgs, { env })).code).toBe(0);
    const again = await runCli(initArgs, { env });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already the KB "acme-test"');
    const forced = await runCli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production', '--force', '--json'], { env });
    expect(JSON.parse(forced.stdout).kb).toMatchObject({ name: 'acme-prod', environment: 'production', refKeyIds: ['k1'] });
    const badUrl = await runCli(['init', '--name', 'x', '--url', 'records.acme', '--environment', 'dev', '--force'], { env });
    expect(badUrl.code).toBe(2);
    const badEnv = await runCli(['init', '--name', 'x', '--url', 'https://x.test', '--environment', 'staging', '--force'], { env });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toMatch(/Allowed choices are production, test, dev/);
  });
});
