import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { runCli } from '../helpers/run-cli.js';
import { startSmtpSink } from '../helpers/smtp-sink.js';
import { useTempDirs } from '../helpers/temp-dir.js';

describe('mailctl configure server with flags (scripts)', () => {
  const tempDir = useTempDirs();
  const newKb = async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await runCli(['init', '--name', 'acme-test', '--url', 'https://records.acme.test', '--environment', 'test'], { env });
    return env;
  };

  it('verifies before saving: a failed login saves nothing and exits with the phase code', async () => {
    const sink = await startSmtpSink({ auth: { user: 'records@acme.test', pass: 'right' } });
    try {
      const env = await newKb();
      const args = ['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'password', '--username', 'records@acme.test', '--from', 'records@acme.test', '--secret-stdin'];
      const failed = await runCli(args, { env, input: 'wrong\n' });
      expect(failed.code).toBe(13);
      expect(failed.stderr).toContain('Verification failed while logging in');
      expect(failed.stdout).toContain('Nothing was saved');
      expect(JSON.parse(readFileSync(join(env.MAILCTL_HOME, 'config.json'), 'utf8')).outbound).toBeUndefined();

      const ok = await runCli([...args, '--json'], { env, input: 'right\n' });
      expect(ok.code, ok.stderr).toBe(0);
      expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, saved: true, outbound: { host: '127.0.0.1', auth: { type: 'password', username: 'records@acme.test' } } });
      expect(ok.stdout).not.toContain('right\n');
      const configText = readFileSync(join(env.MAILCTL_HOME, 'config.json'), 'utf8');
      expect(JSON.parse(configText).outbound.auth.password).toBe('${secret:outbound/password}');

      // Changing only the from-address keeps the stored password (no stdin needed).
      const edit = await runCli(['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'password', '--username', 'records@acme.test', '--from', 'contracts@acme.test'], { env });
      expect(edit.code, edit.stderr).toBe(0);
      expect((await runCli(['test-send', '--to', 'x@acme.test'], { env })).code).toBe(0);
      expect(sink.messages[0]!.from).toBe('contracts@acme.test');
    } finally {
      await sink.close();
    }
  });

  it('--no-verify saves an unreachable server; presets fill host, port and security', async () => {
    const env = await newKb();
    const port = await freePort();
    const saved = await runCli(['configure', 'server', '--host', '127.0.0.1', '--port', String(port), '--security', 'none', '--auth', 'none', '--from', 'a@acme.test', '--no-verify'], { env });
    expect(saved.code).toBe(0);
    expect(saved.stderr).toContain('Not verified');
    const preset = await runCli(['configure', 'server', '--preset', 'gmail', '--auth', 'password', '--username', 'me@gmail.test', '--from', 'me@gmail.test', '--secret-stdin', '--no-verify', '--json'], { env, input: 'app-password\n' });
    expect(preset.code, preset.stderr).toBe(0);
    expect(JSON.parse(preset.stdout).outbound).toMatchObject({ host: 'smtp.gmail.com', port: 587, security: 'starttls' });
  });

  it('--max-connections and --max-per-minute: stored, shown, kept by a later edit, "off" removes the limit; bad values refused', async () => {
    const env = await newKb();
    const base = ['configure', 'server', '--host', 'smtp.acme.test', '--security', 'starttls', '--auth', 'none', '--from', 'a@acme.test', '--no-verify'];
    const plain = await runCli([...base, '--json'], { env });
    expect(JSON.parse(plain.stdout).outbound).toMatchObject({ maxConnections: 3, maxPerMinute: null }); // the defaults, shown
    const set = await runCli([...base, '--max-connections', '2', '--max-per-minute', '30'], { env });
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain('2 connections at most, 30 messages a minute at most');
    const config = () => JSON.parse(readFileSync(join(env.MAILCTL_HOME, 'config.json'), 'utf8')).outbound;
    expect(config()).toMatchObject({ maxConnections: 2, maxPerMinute: 30 });
    expect((await runCli([...base, '--from', 'b@acme.test'], { env })).code).toBe(0);
    expect(config()).toMatchObject({ from: 'b@acme.test', maxConnections: 2, maxPerMinute: 30 });
    expect((await runCli([...base, '--max-per-minute', 'off'], { env })).code).toBe(0);
    expect(config().maxPerMinute).toBeUndefined();
    for (const bad of [['--max-connections', '0'], ['--max-connections', '2.5'], ['--max-per-minute', 'lots']]) {
      const refused = await runCli([...base, ...bad], { env });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(bad[0]);
    }
    expect(config()).toMatchObject({ maxConnections: 2 });
  });

  it('stores OAuth fields with the client secret in the secret store, never in the config', async () => {
    const env = await newKb();
    const secret = 'Qx8Q~client.secret-value_0123456789';
    const result = await runCli(['configure', 'server', '--preset', 'microsoft365', '--auth', 'oauth2', '--oauth-provider', 'microsoft', '--tenant', 'acme.onmicrosoft.com', '--client-id', '11111111-2222-3333-4444-555555555555', '--username', 'records@acme.test', '--from', 'records@acme.test', '--secret-stdin', '--no-verify', '--json'], { env, input: secret });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toContain(secret);
    const config = readFileSync(join(env.MAILCTL_HOME, 'config.json'), 'utf8');
    expect(config).not.toContain(secret);
    expect(JSON.parse(config).outbound.auth).toMatchObject({ type: 'oauth2', provider: 'microsoft', tenant: 'acme.onmicrosoft.com', clientSecret: '${secret:outbound/client_secret}' });
  });

  it('takes custom properties from a file, moving secrets out', async () => {
    const env = await newKb();
    const file = join(env.MAILCTL_HOME, 'smtp.properties');
    writeFileSync(file, 'mail.smtp.oauth2.client_secret=Prop-Secret-Value-987\nmail.debug=true\n');
    const result = await runCli(['configure', 'server', '--host', 'smtp.acme.test', '--security', 'starttls', '--auth', 'none', '--from', 'a@acme.test', '--properties-file', file, '--no-verify'], { env });
    expect(result.code, result.stderr).toBe(0);
    const config = JSON.parse(readFileSync(join(env.MAILCTL_HOME, 'config.json'), 'utf8'));
    expect(config.outbound.port).toBe(587);
    expect(config.outbound.properties).toMatch(/^mail\.smtp\.oauth2\.client_secret=\$\{secret:props\/outbound\/[0-9a-f]+\}\nmail\.debug=true\n$/);
    expect((await runCli(['properties', 'show', 'outbound'], { env })).stdout).toContain('client_secret=********-987');
  });

  it('bad input: a clear error, exit 2, nothing saved', async () => {
    const env = await newKb();
    const base = ['configure', 'server', '--host', 'h.test', '--security', 'none', '--auth', 'none', '--no-verify'];
    const cases: Array<[string[], RegExp, string?]> = [
      [[...base, '--from', 'not-an-address'], /not a valid email address/],
      [[...base, '--from', 'a@b.test', '--port', '99999'], /port is a whole number/],
      [[...base, '--from', 'a@b.test', '--timeout', 'forever'], /not a duration/],
      [[...base, '--from', 'a@b.test', '--tls-ca', '/nonexistent.pem'], /Cannot read \/nonexistent\.pem: no such file/],
      [['configure', 'server', '--host', 'h.test', '--security', 'none', '--auth', 'password', '--username', 'u', '--from', 'a@b.test', '--no-verify'], /pipe it in with --secret-stdin/],
      [['configure', 'server', '--host', 'h.test', '--security', 'none', '--auth', 'password', '--username', 'u', '--from', 'a@b.test', '--no-verify', '--secret-stdin'], /standard input was empty/, ''],
      [[...base, '--from', 'a@b.test', '--security', 'ssl'], /Allowed choices are tls, starttls, none/],
      [['configure', 'server', '--host', 'h.test'], /needs an answer.*pass --username/],
    ];
    for (const [args, message, input] of cases) {
      const result = await runCli(args, { env, input: input ?? '' });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(message);
    }
    expect(JSON.parse(readFileSync(join(env.MAILCTL_HOME, 'config.json'), 'utf8')).outbound).toBeUndefined();
  });
});
