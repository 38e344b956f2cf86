import { spawn } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, statSync, symlinkSync, lchownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolvePaths } from '../../../src/config/paths.js';
import { Output } from '../../../src/ui/output.js';
import { renderError } from '../../../src/ui/render-error.js';
import { bySize } from '../../helpers/reliability-tier.js';
import { runCli, type CliResult } from '../../helpers/run-cli.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

/**
 * Issue 14, item 8, second round (the folders above the home): ssh's StrictModes judges every
 * folder from / down to a key file. A home of mode 0700 inside a folder everyone can write
 * (0777, not sticky) can be renamed away and another user's folder put in its place between
 * mailctl's check and its use: status, run as root while another user swapped the two, made
 * mailctl.db and messages/ inside their folder and failed as "a bug" (exit 70, scandir ENOENT).
 * Here the other user is uid 65534 (nobody), in a child process; the test runs as root.
 */
const nobody = 65534;

async function ok(env: Record<string, string>, args: string[]): Promise<CliResult> {
  const result = await runCli(args, { env });
  expect(result.code, `mailctl ${args.join(' ')}\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
}

async function newKb(env: Record<string, string>): Promise<void> {
  await ok(env, ['init', '--name', 'acme', '--url', 'https://records.acme.test', '--environment', 'production']);
}

describe('the folders above the home are judged as ssh judges them (issue 14, item 8)', () => {
  const tempDir = useTempDirs();
  /** A folder others can reach (0755, root's) to build shared folders in. */
  const base = () => {
    const dir = tempDir();
    chmodSync(dir, 0o755);
    return dir;
  };
  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('this test hands folders to another user (chown): run it as root');
  });

  it('a 0777 parent without the sticky bit is refused by every command, doctor names it, and chmod go-w is the fix', async () => {
    const shared = join(base(), 'shared');
    mkdirSync(shared, { mode: 0o755 });
    const home = join(shared, 'kb');
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    await newKb(env);
    chmodSync(shared, 0o777);
    for (const args of [['config', 'show'], ['status'], ['records', 'list'], ['keys', 'rotate'], ['daemon', '--once']]) {
      const refused = await runCli(args, { env });
      expect(refused.code, `${args.join(' ')}: ${refused.stdout}${refused.stderr}`).toBe(3);
      expect(refused.stderr).toContain(`Refusing to use ${shared}: it is writable by group and others (mode 0777) without the sticky bit`);
      expect(refused.stderr).toContain(`chmod go-w ${shared}`);
    }
    const json = JSON.parse((await runCli(['--json', 'status'], { env })).stdout);
    expect(json.error).toMatchObject({ code: 'E_UNSAFE_PERMISSIONS', command: `chmod go-w ${shared}` });
    const doctor = await runCli(['--json', 'doctor', '--no-network'], { env });
    expect(doctor.code).toBe(1);
    expect(JSON.parse(doctor.stdout).findings).toEqual([expect.objectContaining({ check: 'config.permissions', severity: 'error', command: `chmod go-w ${shared}` })]);
    expect((await runCli(['doctor', '--no-network'], { env })).stdout).toContain(`${shared} (on the way to ${home}) is writable by other users and not sticky`);

    // The config and data folders set apart (XDG): each one's parents are judged.
    const xdg = { XDG_CONFIG_HOME: join(shared, 'config'), XDG_DATA_HOME: join(base(), 'data'), HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const apart = await runCli(['config', 'show'], { env: xdg });
    expect(apart.code).toBe(3);
    expect(apart.stderr).toContain(`Refusing to use ${shared}`);

    chmodSync(shared, 0o755);
    await ok(env, ['status']);
  });

  it('a sticky parent (1777, as /tmp itself) is fine: others cannot rename what is not theirs', async () => {
    expect(statSync(tmpdir()).mode & 0o1777).toBe(0o1777); // every test's home sits in it
    const sticky = join(base(), 'sticky');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    const env = { MAILCTL_HOME: join(sticky, 'kb'), MAILCTL_SECRET_BACKEND: 'file' };
    await newKb(env);
    await ok(env, ['status']);
    await ok(env, ['doctor', '--no-network', '--only', 'config']);
  });

  it('a parent owned by another user (uid 65534), and a link on the way that is theirs, are refused even for root', async () => {
    const theirs = join(base(), 'theirs');
    mkdirSync(theirs, { mode: 0o755 });
    const home = join(theirs, 'kb');
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    await newKb(env);
    chownSync(theirs, nobody, nobody);
    const refused = await runCli(['status'], { env });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain(`Refusing to use ${theirs}: it is owned by uid 65534, not by this user (uid 0) nor root`);
    expect(refused.stderr).toContain(`chown root ${theirs}`);
    const doctor = JSON.parse((await runCli(['--json', 'doctor', '--no-network'], { env })).stdout);
    expect(doctor.findings).toEqual([expect.objectContaining({ check: 'config.permissions', command: `chown root ${theirs}` })]);
    chownSync(theirs, 0, 0);
    await ok(env, ['status']);

    // A link in a sticky folder, owned by them: they may point it elsewhere at any moment.
    const sticky = join(base(), 'sticky');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    const link = join(sticky, 'kb-link');
    symlinkSync(home, link);
    lchownSync(link, nobody, nobody);
    const viaLink = await runCli(['status'], { env: { ...env, MAILCTL_HOME: link } });
    expect(viaLink.code).toBe(3);
    expect(viaLink.stderr).toContain(`Refusing to use ${link}: it is a symbolic link owned by uid 65534`);
    lchownSync(link, 0, 0);
    await ok({ ...env, MAILCTL_HOME: link }, ['status']);
  });

  it('another user swapping the home with their folder in a loop: every run refused, never a bug, nothing made in their folder', async () => {
    const shared = join(base(), 'shared');
    mkdirSync(shared, { mode: 0o755 });
    const home = join(shared, 'kb');
    const evil = join(shared, 'evil');
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    await newKb(env);
    mkdirSync(evil, { mode: 0o777 });
    chownSync(evil, nobody, nobody);
    chmodSync(shared, 0o777);
    // As nobody: kb -> spare, evil -> kb, spare -> evil, over and over (each rename atomic, the swap not).
    const swapper = spawn(process.execPath, ['-e', `
      const { renameSync } = require('node:fs');
      const [kb, evil, spare] = process.argv.slice(1);
      for (;;) { try { renameSync(kb, spare); renameSync(evil, kb); renameSync(spare, evil); } catch {} }
    `, home, evil, join(shared, 'spare')], { uid: nobody, gid: nobody, stdio: 'ignore' });
    const runs = bySize(40, 12);
    const codes: number[] = [];
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (let i = 0; i < runs; i++) {
        const result = await runCli(['status'], { env });
        codes.push(result.code);
        expect(result.stderr).not.toContain('unexpected error');
        expect(result.code, `run ${i + 1}: ${result.stdout}${result.stderr}`).toBe(3);
        expect(result.stderr).toContain(`Refusing to use ${shared}`);
      }
    } finally {
      swapper.kill('SIGKILL');
      await new Promise((resolve) => swapper.once('exit', resolve));
    }
    expect(codes).toEqual(new Array(runs).fill(3));
    // Their folder (wherever the swap left it) holds nothing of mailctl's.
    const names = readdirSync(shared);
    const theirs = names.map((n) => join(shared, n)).filter((p) => lstatSync(p).uid === nobody);
    expect(theirs).toHaveLength(1);
    expect(readdirSync(theirs[0]!)).toEqual([]);
  });

  it('a file of the home that went away mid-command is the admin\'s to look into, not a bug (exit 3, not 70)', () => {
    const home = tempDir();
    let thrown: unknown;
    try {
      readdirSync(join(home, 'messages', 'objects', 'ab'));
    } catch (error) {
      thrown = error;
    }
    const stderr = new PassThrough();
    let text = '';
    stderr.on('data', (d: Buffer) => (text += d.toString()));
    const out = new Output({ stdout: new PassThrough(), stderr, json: false, color: false });
    expect(renderError(out, thrown, false, resolvePaths({ MAILCTL_HOME: home }))).toBe(3);
    expect(text).toContain(`${join(home, 'messages', 'objects', 'ab')} went away while mailctl was using it`);
    expect(text).not.toContain('a bug');
  });
});
