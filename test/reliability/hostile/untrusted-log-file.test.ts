import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { binPath, runCli, type CliResult } from '../../helpers/run-cli.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

/**
 * Issue 14, item 8, second round (`daemon --log-file`): the daemon opened its log with
 * createWriteStream(file, { flags: 'a' }) — following a link planted at the name, appending to a
 * 0666 log another user owns, in a folder anyone can write — and doctor said nothing. Here the
 * other user is uid 65534 (nobody); the test runs as root, as the daemon of a system often does.
 */
const nobody = 65534;

async function ok(env: Record<string, string>, args: string[]): Promise<CliResult> {
  const result = await runCli(args, { env });
  expect(result.code, `mailctl ${args.join(' ')}\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
}

describe('the daemon\'s --log-file is opened as ssh would trust it (issue 14, item 8)', () => {
  const tempDir = useTempDirs();
  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('this test hands files to another user (chown): run it as root');
  });

  /** A KB, and a shared sticky folder (1777, as /tmp) for logs, with a victim file outside it. */
  async function setUp() {
    const base = tempDir();
    chmodSync(base, 0o755);
    const env = { MAILCTL_HOME: join(base, 'kb'), MAILCTL_SECRET_BACKEND: 'file' };
    await ok(env, ['init', '--name', 'acme', '--url', 'https://records.acme.test', '--environment', 'production']);
    const shared = join(base, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const victim = join(base, 'victim.txt');
    writeFileSync(victim, 'precious\n', { mode: 0o644 });
    return { base, env, shared, victim, log: join(shared, 'mailctl.log') };
  }

  /** Runs the daemon loop with --log-file; a refused log ends it at once (exit 3), else it is stopped once it has logged. */
  async function daemon(env: Record<string, string>, log: string): Promise<{ code: number | null; stderr: string }> {
    const child = spawn(process.execPath, [binPath, 'daemon', '--tick', '0.2s', '--log-file', log], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 15_000;
    const logged = async () => {
      while (Date.now() < deadline) {
        try {
          if (statSync(log).isFile() && readFileSync(log, 'utf8').includes('daemon started')) return 'logged';
        } catch { /* not yet */ }
        await new Promise((r) => setTimeout(r, 100));
      }
      return 'timed out';
    };
    const first = await Promise.race([exited.then(() => 'exited'), logged()]);
    if (first !== 'exited') child.kill('SIGTERM');
    const code = await exited;
    return { code, stderr };
  }

  it('a link planted at the log\'s name is not followed: the victim is untouched, exit 3 with the fix', async () => {
    const { env, victim, log } = await setUp();
    symlinkSync(victim, log);
    const { code, stderr } = await daemon(env, log);
    expect(code, stderr).toBe(3);
    expect(stderr).toContain(`Refusing to write the daemon's log to ${log}: it is a symbolic link`);
    expect(stderr).toContain(`rm ${log}`);
    expect(stderr).not.toMatch(/unexpected error|at .*\.js:\d+/);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(existsSync(join(env.MAILCTL_HOME, 'daemon.lock'))).toBe(false);
  });

  it('a hard link to another file, a FIFO, a 0666 log of another user\'s, a group-writable log: refused, nothing written; doctor --log-file says so', async () => {
    const { env, victim, log } = await setUp();
    linkSync(victim, log);
    let run = await daemon(env, log);
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toContain('it is a file with 2 names (hard links)');
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    rmSync(log);

    execFileSync('mkfifo', [log]);
    run = await daemon(env, log);
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toContain('it is a FIFO');
    rmSync(log);

    writeFileSync(log, 'theirs\n', { mode: 0o666 });
    chmodSync(log, 0o666);
    chownSync(log, nobody, nobody);
    run = await daemon(env, log);
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toContain(`Refusing to write the daemon's log to ${log}: it is owned by uid 65534, not by this user (uid 0) nor root`);
    expect(readFileSync(log, 'utf8')).toBe('theirs\n');
    const doctor = await runCli(['--json', 'doctor', '--no-network', '--log-file', log], { env });
    expect(doctor.code).toBe(1);
    expect(JSON.parse(doctor.stdout).findings).toContainEqual(expect.objectContaining({ check: 'config.log-file', severity: 'error', command: `rm ${log}` }));

    chownSync(log, 0, 0);
    chmodSync(log, 0o620);
    run = await daemon(env, log);
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toContain('it is writable by its group (mode 0620)');
    expect(run.stderr).toContain(`chmod 600 ${log}`);
    expect(readFileSync(log, 'utf8')).toBe('theirs\n');
  });

  it('a log in a folder anyone can write (0777, not sticky) or another user\'s folder is refused; in a sticky one, a new 0600 file of ours is used', async () => {
    const { base, env, log } = await setUp();
    const open = join(base, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    let run = await daemon(env, join(open, 'mailctl.log'));
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toContain(`Refusing to use ${open}: it is writable by group and others (mode 0777) without the sticky bit`);
    expect(run.stderr).toContain(`chmod go-w ${open}`);
    expect(existsSync(join(open, 'mailctl.log'))).toBe(false);
    const doctor = await runCli(['--json', 'doctor', '--no-network', '--log-file', join(open, 'mailctl.log')], { env });
    expect(JSON.parse(doctor.stdout).findings).toContainEqual(expect.objectContaining({ check: 'config.log-file', command: `chmod go-w ${open}` }));

    const theirs = join(base, 'theirs');
    mkdirSync(theirs, { mode: 0o755 });
    chownSync(theirs, nobody, nobody);
    run = await daemon(env, join(theirs, 'mailctl.log'));
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toContain(`Refusing to use ${theirs}: it is owned by uid 65534`);

    run = await daemon(env, log);
    expect(run.code, run.stderr).toBe(0);
    expect(statSync(log).mode & 0o777).toBe(0o600);
    expect(statSync(log).uid).toBe(0);
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ app: 'mailctl', msg: 'daemon started' });
    const doctor2 = await runCli(['--json', 'doctor', '--no-network', '--only', 'config', '--log-file', log], { env });
    expect(JSON.parse(doctor2.stdout).passed).toContainEqual(expect.objectContaining({ check: 'config.log-file' }));
  });
});
