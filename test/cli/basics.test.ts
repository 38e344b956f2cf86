import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);

describe('mailctl basics', () => {
  const tempDir = useTempDirs();
  const env = () => ({ MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' });

  it('--help lists every command with a summary, and examples', async () => {
    const result = await runCli(['--help'], { env: env() });
    expect(result.code).toBe(0);
    for (const command of ['init', 'config', 'secrets', 'properties', 'tables', 'contacts', 'records']) {
      expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b.*\\S{3,}`, 'm'));
    }
    expect(result.stdout).toContain('Examples:');
    const sub = await runCli(['config', 'set', '--help'], { env: env() });
    expect(sub.stdout).toContain('mailctl config set max_attachment_size 25MB');
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const result = await runCli(['--version'], { env: env() });
    expect(result).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });

  it('an unknown command or flag is a usage error, exit 2', async () => {
    const command = await runCli(['sendd'], { env: env() });
    expect(command.code).toBe(2);
    expect(command.stderr).toMatch(/unknown command 'sendd'/);
    const flag = await runCli(['config', 'show', '--colour'], { env: env() });
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/unknown option '--colour'/);
    const missing = await runCli(['config', 'set', 'max_body_size'], { env: env() });
    expect(missing.code).toBe(2);
  });

  it('config set validates before writing: a bad value exits 2 and leaves the file as it was', async () => {
    const e = env();
    expect((await runCli(['config', 'set', 'max_body_size', '2MB'], { env: e })).code).toBe(0);
    const path = join(e.MAILCTL_HOME, 'config.json');
    const before = readFileSync(path);
    for (const [name, value] of [['max_body_size', 'huge'], ['outbound_retry_lifetime', '5 days'], ['email_enabled', 'perhaps'], ['no_such_variable', '1']]) {
      const result = await runCli(['config', 'set', name!, value!], { env: e });
      expect(result.code, `${name}=${value}`).toBe(2);
      expect(result.stderr).toContain(name);
      noStack(result.stderr);
    }
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('config show/get/set/unset with --json', async () => {
    const e = env();
    const set = JSON.parse((await runCli(['--json', 'config', 'set', 'outbound_retry_interval', '900s'], { env: e })).stdout);
    expect(set).toMatchObject({ ok: true, name: 'outbound_retry_interval', value: '15m', previous: '30m' });
    const show = JSON.parse((await runCli(['config', 'show', '--json'], { env: e })).stdout);
    expect(show.globals).toHaveLength(15);
    expect(show.globals.find((g: { name: string }) => g.name === 'message_retention')).toMatchObject({ value: 'forever', isDefault: true, default: 'forever' });
    expect((await runCli(['config', 'show'], { env: e })).stdout).toMatch(/message_retention +forever +forever +stored messages and attachments older than this are purged daily/);
    expect(JSON.parse((await runCli(['config', 'set', 'message_retention', '2557d', '--json'], { env: e })).stdout)).toMatchObject({ ok: true, value: '2557d', previous: 'forever' });
    expect(show.globals.find((g: { name: string }) => g.name === 'outbound_retry_interval')).toMatchObject({ value: '15m', isDefault: false, default: '30m' });
    expect((await runCli(['config', 'get', 'outbound_retry_interval'], { env: e })).stdout).toBe('15m\n');
    await runCli(['config', 'unset', 'outbound_retry_interval'], { env: e });
    expect((await runCli(['config', 'get', 'outbound_retry_interval'], { env: e })).stdout).toBe('30m\n');
  });

  it('a usage error under --json is a JSON document with the code', async () => {
    const result = await runCli(['config', 'set', 'max_body_size', 'x', '--json'], { env: env() });
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, error: { code: 'E_GLOBAL_VALUE' } });
  });
});

describe('a broken config file', () => {
  const tempDir = useTempDirs();
  const cases: Array<[string, string, RegExp]> = [
    ['not JSON', '{"kb": {"name": "acme", ', /not valid JSON/],
    ['schema violation', JSON.stringify({ kb: { name: 'acme', url: 'https://x.test', environment: 'staging', refKeyIds: ['k1'], activeRefKeyId: 'k1', createdAt: 'x' } }), /schema.*environment/],
    ['unknown top-level key', JSON.stringify({ globalz: {} }), /schema/],
    ['bad global value type', JSON.stringify({ globals: { max_body_size: 5 } }), /max_body_size/],
  ];
  for (const [what, text, problem] of cases) {
    it(`${what}: a clear error naming the file, exit 3, file untouched`, async () => {
      const home = tempDir();
      const path = join(home, 'config.json');
      const { writeFileSync } = await import('node:fs');
      writeFileSync(path, text, { mode: 0o600 });
      for (const args of [['config', 'show'], ['config', 'set', 'max_body_size', '2MB'], ['init', '--name', 'x', '--url', 'https://x.test', '--environment', 'dev']]) {
        const result = await runCli(args, { env: { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' } });
        expect(result.code).toBe(3);
        expect(result.stderr).toContain(path);
        expect(result.stderr).toMatch(problem);
        expect(result.stderr).toContain('mailctl has not changed it');
        noStack(result.stderr);
      }
      expect(readFileSync(path, 'utf8')).toBe(text);
    });
  }
});
