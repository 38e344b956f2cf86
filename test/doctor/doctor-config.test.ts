import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startKeyringSession } from '../helpers/keyring-session.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { doctor, findingsOf, newKb, ok } from './doctor-helpers.js';

const secret = 'Q7x~c0nfig.secret-0123456789abcdefABCD';

describe('doctor: the Configuration section (static checks, no server needed)', () => {
  const tempDir = useTempDirs();
  const envFor = () => ({ MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' });
  const serverWith = (security: string) => ['configure', 'server', '--host', '127.0.0.1', '--port', '2525', '--security', security, '--auth', 'password', '--username', 'records@acme.test', '--from', 'records@acme.test', '--secret-stdin', '--no-verify'];
  const server = serverWith('none');

  it('a fresh, well-kept installation has no configuration finding', async () => {
    const env = envFor();
    await newKb(env);
    await ok(env, server, 'smtp-password');
    const report = await doctor(env, '--only', 'config', '--no-network');
    expect(report.findings).toEqual([]);
    expect(report.passed.map((p) => p.check)).toEqual(expect.arrayContaining(['config.secrets-stored', 'config.secrets-in-clear', 'config.file-modes', 'config.tls-verify']));
  });

  it('client_secret occurrences that differ (a half-done rotation) → error, fix: rotate-secret; the secrets stay masked', async () => {
    const env = envFor();
    await newKb(env);
    await ok(env, server, 'smtp-password');
    const properties = `client_id=11111111-2222-3333-4444-555555555555\nclient_secret=${secret}\nmail.smtp.oauth2.client_secret=${secret}\nmail.imap.oauth2.client_secret=OLD-${secret}\n`;
    await ok(env, ['properties', 'set', 'outbound', '--file', '-'], properties);
    const result = await runCli(['doctor', '--only', 'config', '--no-network', '--json'], { env });
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).not.toContain(secret);
    const [finding] = findingsOf(JSON.parse(result.stdout), 'config.client-secrets');
    expect(finding).toMatchObject({ severity: 'error', symptom: 'configuration', command: 'mailctl rotate-secret' });
    expect(finding!.title).toBe('1 of 3 client_secret occurrences differ from the others');
    expect(finding!.seen).toContain('properties line 4 (mail.imap.oauth2.client_secret)');

    // Once every copy agrees, the finding is gone.
    await ok(env, ['properties', 'set', 'outbound', '--file', '-'], properties.replace(`OLD-${secret}`, secret));
    expect(findingsOf(await doctor(env, '--only', 'config', '--no-network'), 'config.client-secrets')).toEqual([]);
  });

  it('a secret written in clear into config.json by hand → error naming the line, never the value', async () => {
    const env = envFor();
    await newKb(env);
    await ok(env, server, 'smtp-password');
    const path = join(env.MAILCTL_HOME, 'config.json');
    const config = JSON.parse(readFileSync(path, 'utf8'));
    config.outbound.properties = `mail.smtp.auth=true\napi_key=${secret}\n`;
    writeFileSync(path, JSON.stringify(config, null, 2), { mode: 0o600 });
    const result = await runCli(['doctor', '--only', 'config', '--no-network', '--json'], { env });
    expect(result.code).toBe(1);
    expect(result.stdout).not.toContain(secret);
    expect(findingsOf(JSON.parse(result.stdout), 'config.secrets-in-clear')).toEqual([
      expect.objectContaining({ severity: 'error', seen: 'outbound properties line 2 (api_key)', command: 'mailctl properties set outbound --file FILE' }),
    ]);
  });

  it('files readable by others → a warning for config.json, an error for the master key, each with its chmod', async () => {
    const env = envFor();
    await newKb(env);
    chmodSync(join(env.MAILCTL_HOME, 'config.json'), 0o644);
    chmodSync(join(env.MAILCTL_HOME, 'master.key'), 0o640);
    const findings = findingsOf(await doctor(env, '--only', 'config', '--no-network'), 'config.file-modes');
    expect(findings).toEqual(expect.arrayContaining([
      expect.objectContaining({ severity: 'warning', title: expect.stringContaining('config.json can be read by other users (mode 0644)'), command: `chmod 600 ${join(env.MAILCTL_HOME, 'config.json')}` }),
      expect.objectContaining({ severity: 'error', title: expect.stringContaining('master.key can be read by other users (mode 0640)'), command: `chmod 600 ${join(env.MAILCTL_HOME, 'master.key')}` }),
    ]));
    expect(findings).toHaveLength(2);
  });

  it('TLS verification turned off for the outbound server → a warning pointing at --tls-ca', async () => {
    const env = envFor();
    await newKb(env);
    await ok(env, [...serverWith('tls'), '--tls-skip-verify'], 'smtp-password');
    const report = await doctor(env, '--only', 'config', '--no-network');
    expect(report.ok).toBe(true); // a warning, not an error
    expect(findingsOf(report, 'config.tls-verify')).toEqual([
      expect.objectContaining({ severity: 'warning', title: 'TLS certificate verification is off for the outbound server 127.0.0.1:2525', command: 'mailctl configure server --tls-ca ca.pem' }),
    ]);
  });

  it('a secret the config refers to is gone from the store (a restored or reset store) → error with the command that re-enters it', async () => {
    const env = envFor();
    await newKb(env);
    await ok(env, server, 'smtp-password');
    // Another installation's (empty) store put in place of this one, as a wrong restore does.
    const other = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await newKb(other);
    for (const f of ['secrets.enc', 'master.key']) writeFileSync(join(env.MAILCTL_HOME, f), readFileSync(join(other.MAILCTL_HOME, f)), { mode: 0o600 });
    const findings = findingsOf(await doctor(env, '--only', 'config', '--no-network'), 'config.secrets-stored');
    expect(findings).toEqual([expect.objectContaining({ severity: 'error', title: '1 of 2 secret(s) the configuration refers to are missing from the file store', command: 'mailctl configure server' })]);
    expect(findings[0]!.seen).toBe('outbound password (outbound/password)');
  });

  it('secrets kept in a keyring that does not persist: after a "reboot" the keyring is empty → error naming each lost secret and the way out', async () => {
    const home = tempDir();
    const before = await startKeyringSession(tempDir());
    let env: Record<string, string> = { MAILCTL_HOME: home, ...before.env };
    try {
      await newKb(env);
      await ok(env, server, 'smtp-password');
      expect(JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')).secretBackend).toBe('keyring');
      expect((await doctor(env, '--only', 'config', '--no-network')).findings).toEqual([]);
    } finally {
      before.stop();
    }
    // The same Secret Service comes back after the reboot, with nothing in it.
    const after = await startKeyringSession(tempDir());
    env = { MAILCTL_HOME: home, ...after.env };
    try {
      const report = await doctor(env, '--only', 'config', '--no-network');
      const [finding] = findingsOf(report, 'config.secrets-stored');
      expect(finding).toMatchObject({ severity: 'error', title: '2 of 2 secret(s) the configuration refers to are missing from the keyring store', command: 'mailctl configure server' });
      expect(finding!.seen).toBe('reference key k1 (kb/refkey/k1); outbound password (outbound/password)');
      expect(finding!.cause).toContain('does not persist');
      expect(finding!.fix).toContain('MAILCTL_SECRET_BACKEND=file');
    } finally {
      after.stop();
    }
  });
});
