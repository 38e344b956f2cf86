import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { materializeSecrets } from '../../src/config/property-secrets.js';
import { readJournal } from '../../src/rotation/rotation-journal.js';
import { FileSecretStore } from '../../src/secrets/file-secret-store.js';
import { bySize } from '../helpers/reliability-tier.js';
import { binPath, runCli, type CliResult } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const OLD = 'Old8Q~expired.secret-value_0123456789ab';
const properties = (secret: string) => `mail.smtp.oauth2.client_id=mailctl-app\nmail.smtp.oauth2.client_secret=${secret}\nclient_secret=${secret}\n`;

/** The built CLI as a child process, started at once (runCli's shape, without awaiting). */
function start(args: string[], env: Record<string, string>, input = ''): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Issue 14, attacker round: every command that opens the secret store finishes "an interrupted
 * rotate-secret" — and it took a rotation still running for one, rolled it back under it, and
 * rotate-secret then reported success with the old secret back everywhere. A rotation now holds
 * rotate-secret.lock for its whole run; recovery happens only when its holder is gone.
 */
describe('rotate-secret beside other mailctl commands (real processes)', () => {
  const tempDir = useTempDirs();

  /** A KB whose outbound server and one inbound account keep the secret twice each (not contacted: --no-verify). */
  async function setUp(): Promise<Record<string, string>> {
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    const ok = (r: CliResult) => expect(r.code, r.stdout + r.stderr).toBe(0);
    ok(await runCli(['init', '--name', 'acme', '--url', 'https://records.acme.test', '--environment', 'production'], { env }));
    ok(await runCli(['tables', 'add', 'contracts'], { env }));
    const file = join(home, 'p.properties');
    writeFileSync(file, properties(OLD));
    const oauth = ['--auth', 'oauth2', '--oauth-provider', 'microsoft', '--authority', 'https://login.microsoftonline.com/acme.test', '--client-id', 'mailctl-app', '--username', 'mail@acme.test'];
    ok(await runCli(['configure', 'server', '--host', '127.0.0.1', '--port', '2525', '--security', 'none', ...oauth, '--from', 'mail@acme.test', '--properties-file', file, '--no-verify'], { env }));
    ok(await runCli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', '1143', '--security', 'none', ...oauth,
      '--folder', 'INBOX', '--unknown-sender', 'ignore', '--notes', 'new-text', '--after', 'mark-read', '--properties-file', file, '--no-verify'], { env }));
    return env;
  }

  /** Every place's properties with the secrets filled in from the store, read without any recovery; and whether a journal is left. */
  async function state(home: string): Promise<{ places: string[]; journal: boolean }> {
    const store = new FileSecretStore({ path: join(home, 'secrets.enc'), keyPath: join(home, 'master.key') });
    const config = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'));
    return {
      places: [await materializeSecrets(config.outbound.properties, store), await materializeSecrets(config.inbound.contracts.properties, store)],
      journal: (await readJournal(store)) !== undefined,
    };
  }

  const rounds = bySize(14, 5);

  it(`a rotation that says it succeeded is never undone by 6 \`secrets status\` run beside it (${rounds} rounds)`, async () => {
    const env = await setUp();
    const failures: string[] = [];
    let current = OLD;
    for (let round = 0; round < rounds; round++) {
      const secret = `New8Q~round-${round}.secret-value_0123456789`;
      // A pause between replacements stands for the seconds verification takes against real servers.
      const rotation = start(['rotate-secret', '--secret-stdin', '--no-verify'], { ...env, MAILCTL_ROTATE_STEP_DELAY_MS: String(40 + 30 * (round % 3)) }, secret);
      const others: Array<Promise<CliResult>> = [];
      for (let i = 0; i < 6; i++) {
        others.push(start(['secrets', 'status'], env));
        await pause(60);
      }
      const [rotated, ...statuses] = await Promise.all([rotation, ...others]);
      for (const s of statuses) if (s.code !== 0) failures.push(`round ${round}: secrets status exited ${s.code}: ${s.stderr}`);
      if (rotated.code !== 0) {
        failures.push(`round ${round}: rotate-secret exited ${rotated.code}: ${rotated.stdout}${rotated.stderr}`);
        continue;
      }
      if (/every account verified/.test(rotated.stdout)) failures.push(`round ${round}: --no-verify run said "every account verified"`);
      if (!/not verified \(--no-verify\)/.test(rotated.stdout.split('\n').filter((l) => l.includes('Rotated')).join())) failures.push(`round ${round}: the summary does not say the accounts were not verified: ${rotated.stdout}`);
      const rolledBack = statuses.filter((s) => /was rolled back/.test(s.stderr));
      if (rolledBack.length > 0) failures.push(`round ${round}: ${rolledBack.length} status run(s) rolled the live rotation back: ${rolledBack[0]!.stderr.trim()}`);
      const after = await state(env.MAILCTL_HOME!);
      if (after.journal) failures.push(`round ${round}: a journal is left`);
      if (!after.places.every((p) => p === properties(secret))) failures.push(`round ${round}: rotate-secret exited 0 but the store holds ${after.places.map((p) => (p === properties(secret) ? 'the new secret' : p === properties(current) ? 'the OLD secret' : 'a mix of old and new')).join(' / ')}`);
      current = secret;
    }
    expect(failures).toEqual([]);
  }, bySize(240_000, 90_000));

  it('a second rotate-secret while one runs is refused, naming the first; the first one\'s secret stays', async () => {
    const env = await setUp();
    const FIRST = 'New8Q~first.secret-value_0123456789abcd';
    const SECOND = 'New8Q~second.secret-value_0123456789abc';
    const first = start(['rotate-secret', '--secret-stdin', '--no-verify'], { ...env, MAILCTL_ROTATE_STEP_DELAY_MS: '500' }, FIRST);
    await pause(1200); // the first is replacing by now
    const second = await start(['--json', 'rotate-secret', '--secret-stdin', '--no-verify'], env, SECOND);
    const done = await first;
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(second.code).toBe(1);
    const error = JSON.parse(second.stdout).error;
    expect(error.code).toBe('E_ROTATION_RUNNING');
    expect(error.message).toMatch(/^Another rotate-secret is running for this KB \(pid \d+ on /);
    const after = await state(env.MAILCTL_HOME!);
    expect(after).toEqual({ places: [properties(FIRST), properties(FIRST)], journal: false });
  }, 60_000);
});
