import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createExclusive } from '../../../src/fs/replace-file.js';
import { runCli, type CliResult } from '../../helpers/run-cli.js';
import { startSmtpSink, type SmtpSink } from '../../helpers/smtp-sink.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

/**
 * Issue 14, item 8 (files other users can write are trusted): another local user who can
 * write MAILCTL_HOME or config.json replaces the config, and the next command sends the real
 * stored password to their server; a temporary file with a predictable name lets them plant a
 * link that a root-run command writes through. Here the "other user" is the test (root), who
 * makes the folder 0777, the file 0666, or hands the folder to uid 65534 (nobody).
 */
const unsafe = /E_UNSAFE_PERMISSIONS|Refusing to use/;

async function ok(env: Record<string, string>, args: string[], input?: string): Promise<CliResult> {
  const result = await runCli(args, { env, ...(input === undefined ? {} : { input }) });
  expect(result.code, `mailctl ${args.join(' ')}\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
}

async function newKb(env: Record<string, string>): Promise<void> {
  await ok(env, ['init', '--name', 'acme', '--url', 'https://records.acme.test', '--environment', 'production']);
}

describe('files another user could change are refused, as ssh does (issue 14, item 8)', () => {
  const tempDir = useTempDirs();
  let sinks: SmtpSink[] = [];
  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('this test hands a folder to another user (chown): run it as root');
  });
  afterEach(async () => {
    await Promise.all(sinks.splice(0).map((s) => s.close()));
  });

  it('a 0777 MAILCTL_HOME: the config another user rewrote is not used — test-send never reaches their server — and doctor says why', async () => {
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    await newKb(env);
    const ours = await startSmtpSink({ auth: { user: 'records@acme.test', pass: 'the-real-password' } });
    const theirs = await startSmtpSink({ auth: { user: 'records@acme.test', pass: 'the-real-password' } });
    sinks = [ours, theirs];
    await ok(env, ['configure', 'server', '--host', '127.0.0.1', '--port', String(ours.port), '--security', 'none', '--auth', 'password',
      '--username', 'records@acme.test', '--from', 'records@acme.test', '--secret-stdin', '--no-verify'], 'the-real-password');

    chmodSync(home, 0o777);
    // The other user, through the open folder: a new config.json that points at their server.
    const config = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'));
    config.outbound.port = theirs.port;
    rmSync(join(home, 'config.json'));
    writeFileSync(join(home, 'config.json'), JSON.stringify(config), { mode: 0o600 });

    const sent = await runCli(['test-send', '--to', 'pat@acme.test'], { env });
    expect(sent.code, sent.stderr).toBe(3);
    expect(sent.stderr).toMatch(unsafe);
    expect(sent.stderr).toContain(`Refusing to use ${home}: it is writable by group and others (mode 0777)`);
    expect(sent.stderr).toContain(`chmod 700 ${home}`);
    expect(theirs.connections()).toBe(0);
    expect(theirs.messages).toHaveLength(0);

    for (const args of [['config', 'show'], ['records', 'list'], ['keys', 'rotate'], ['status']]) {
      const refused = await runCli(args, { env });
      expect(refused.code, `${args.join(' ')}: ${refused.stdout}${refused.stderr}`).toBe(3);
      expect(refused.stderr).toMatch(unsafe);
    }
    const json = JSON.parse((await runCli(['--json', 'config', 'show'], { env })).stdout);
    expect(json.error).toMatchObject({ code: 'E_UNSAFE_PERMISSIONS', command: `chmod 700 ${home}` });

    const doctor = await runCli(['--json', 'doctor', '--no-network'], { env });
    expect(doctor.code).toBe(1);
    const report = JSON.parse(doctor.stdout);
    expect(report.findings).toEqual([expect.objectContaining({ check: 'config.permissions', severity: 'error', command: `chmod 700 ${home}` })]);
    const human = await runCli(['doctor', '--no-network'], { env });
    expect(human.stdout).toContain(`${home} is writable by other users`);
    expect(theirs.connections()).toBe(0);

    chmodSync(home, 0o700);
    expect((await runCli(['config', 'show'], { env })).code).toBe(0);
  });

  it('a config.json of mode 0666 is refused by every command that reads it, and left as it was', async () => {
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    await newKb(env);
    const path = join(home, 'config.json');
    chmodSync(path, 0o666);
    const before = readFileSync(path, 'utf8');
    for (const args of [['config', 'set', 'email_enabled', 'false'], ['config', 'show'], ['keys', 'list'], ['init', '--force', '--name', 'other', '--url', 'https://x.acme.test', '--environment', 'test']]) {
      const refused = await runCli(args, { env });
      expect(refused.code, `${args.join(' ')}: ${refused.stdout}${refused.stderr}`).toBe(3);
      expect(refused.stderr).toContain(`Refusing to use ${path}: it is writable by group and others (mode 0666)`);
      expect(refused.stderr).toContain(`chmod 600 ${path}`);
    }
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect(lstatSync(path).mode & 0o777).toBe(0o666);
  });

  it('a home owned by another user (uid 65534) is refused even for root; the database and secret files of others too', async () => {
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    await newKb(env);
    chownSync(home, 65534, 65534);
    const refused = await runCli(['config', 'show'], { env });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain(`Refusing to use ${home}: it is owned by uid 65534, not by this user (uid 0)`);
    expect(refused.stderr).toMatch(/chown \S+ /);
    chownSync(home, 0, 0);

    // The files under the data folder: the database another user could write, the secrets file.
    chownSync(join(home, 'mailctl.db'), 65534, 65534);
    const records = await runCli(['records', 'list'], { env });
    expect(records.code).toBe(3);
    expect(records.stderr).toContain(`Refusing to use ${join(home, 'mailctl.db')}: it is owned by uid 65534`);
    chownSync(join(home, 'mailctl.db'), 0, 0);
    chmodSync(join(home, 'secrets.enc'), 0o620);
    const rotate = await runCli(['keys', 'rotate'], { env });
    expect(rotate.code).toBe(3);
    expect(rotate.stderr).toContain(`Refusing to use ${join(home, 'secrets.enc')}: it is writable by its group (mode 0620)`);
    chmodSync(join(home, 'secrets.enc'), 0o600);
    await ok(env, ['keys', 'rotate']);
  });

  it('a link planted at every temporary name a root-run config set or keys rotate could use is never written through', async () => {
    const home = tempDir();
    const outside = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    await newKb(env);
    const victim = join(outside, 'victim');
    writeFileSync(victim, 'precious\n', { mode: 0o644 });
    // The names the temporary files had (<file>.<pid>.tmp): plant links for the next few thousand pids.
    const next = Number(spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim());
    const max = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
    for (let i = 1; i <= 4000; i++) {
      const pid = ((next + i - 1) % max) + 1;
      for (const file of ['config.json', 'secrets.enc']) symlinkSync(victim, join(home, `${file}.${pid}.tmp`));
    }
    await ok(env, ['config', 'set', 'email_enabled', 'false']);
    await ok(env, ['keys', 'rotate']);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(lstatSync(join(home, 'config.json')).isFile()).toBe(true);
    expect(lstatSync(join(home, 'secrets.enc')).isFile()).toBe(true);
    expect(JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')).globals.email_enabled).toBe('false');
    // Nothing but the planted links, and none of ours, beside the files.
    expect(readdirSync(home).filter((n) => /tmp$/.test(n) && !lstatSync(join(home, n)).isSymbolicLink())).toEqual([]);
  });

  it('a temporary file is created exclusively: a link (even dangling) at its name makes the create fail, never follow', () => {
    const dir = tempDir();
    const target = join(dir, 'elsewhere');
    symlinkSync(target, join(dir, 'dangling'));
    expect(() => createExclusive(join(dir, 'dangling'), 0o600)).toThrow(/EEXIST/);
    expect(existsSync(target)).toBe(false);
    writeFileSync(target, 'x');
    symlinkSync(target, join(dir, 'live'));
    expect(() => createExclusive(join(dir, 'live'), 0o600)).toThrow(/EEXIST/);
    expect(readFileSync(target, 'utf8')).toBe('x');
  });
});
