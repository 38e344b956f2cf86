import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileSecretStore } from '../../src/secrets/file-secret-store.js';
import { refKeySecretName } from '../../src/refs/ref-keys.js';
import { bySize } from '../helpers/reliability-tier.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

/**
 * Issue 14, item 9 (lost updates): every config writer is a read-modify-write of config.json;
 * run at the same time, each must see the others' changes. Real CLI processes, all started at
 * once, several rounds; each must exit 0 and every change must be in the file afterwards.
 */
const rounds = bySize(15, 3);
const tables = Array.from({ length: 10 }, (_, i) => `t${i}`);

/** A value for each of the ten global variables in round `r`, each different from the default and from the other rounds. */
function globalsFor(r: number): Record<string, string> {
  return {
    inbound_check_frequency: `${2 + r}m`,
    imap_full_sweep_interval: `${50 + r}m`,
    outbound_retry_interval: `${31 + r}m`,
    outbound_retry_lifetime: `${2 + r}d`,
    max_attachment_size: `${11 + r}MB`,
    max_body_size: `${2 + r}MB`,
    email_enabled: r % 2 ? 'true' : 'false',
    nonproduction_redirect: `round${r}@acme.test`,
    nonproduction_allow_outbound: r % 2 ? 'false' : 'true',
    message_retention: `${400 + r}d`,
  };
}

function configOf(home: string): { globals?: Record<string, string>; inbound?: Record<string, { host: string }>; kb?: { name: string; refKeyIds: string[]; activeRefKeyId: string } } {
  return JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'));
}

async function ok(env: Record<string, string>, args: string[], input?: string): Promise<CliResult> {
  const result = await runCli(args, { env, ...(input === undefined ? {} : { input }), timeoutMs: 60_000 });
  expect(result.code, `mailctl ${args.join(' ')}\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
}

describe('concurrent config writers lose nothing (issue 14, item 9)', () => {
  const tempDir = useTempDirs();

  it(`20 at once — config set of all ten variables and configure inbound of ten tables — all kept, ${rounds} rounds`, async () => {
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    await ok(env, ['init', '--name', 'acme', '--url', 'https://records.acme.test', '--environment', 'test']);
    for (const t of tables) await ok(env, ['tables', 'add', t]);

    for (let r = 0; r < rounds; r++) {
      const wanted = globalsFor(r);
      const runs = await Promise.all([
        ...Object.entries(wanted).map(([name, value]) => ok(env, ['--json', 'config', 'set', name, value])),
        ...tables.map((t) => ok(env, ['configure', 'inbound', t, '--protocol', 'imap', '--host', `r${r}-${t}.acme.test`, '--port', '143', '--security', 'starttls',
          '--auth', 'password', '--username', `${t}@acme.test`, '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore',
          '--notes', 'new-text', '--after', 'mark-read', '--no-verify'], `pw-${r}-${t}`)),
      ]);
      const config = configOf(home);
      // The canonical form each `config set` reported is what the file must hold.
      const reported = Object.fromEntries(runs.slice(0, 10).map((run) => JSON.parse(run.stdout) as { name: string; value: string }).map((j) => [j.name, j.value]));
      expect(config.globals, `round ${r}`).toEqual(reported);
      expect(Object.fromEntries(Object.entries(config.inbound ?? {}).map(([t, a]) => [t, a.host])), `round ${r}`)
        .toEqual(Object.fromEntries(tables.map((t) => [t, `r${r}-${t}.acme.test`])));
    }
    // No temporary or lock file is left behind.
    expect(readdirSync(home).filter((name) => /\.tmp$|\.lock$|\.break$/.test(name))).toEqual([]);
  }, bySize(600_000, 120_000));

  it('keys rotate ×4 and init --force at once: every new key is kept, each distinct and in the secret store, and the new name too', async () => {
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    await ok(env, ['init', '--name', 'acme', '--url', 'https://records.acme.test', '--environment', 'test']);
    let expected = 1;
    for (let r = 0; r < rounds; r++) {
      await Promise.all([
        ...Array.from({ length: 4 }, () => ok(env, ['keys', 'rotate'])),
        ok(env, ['init', '--force', '--name', `acme-${r}`, '--url', 'https://records.acme.test', '--environment', 'test']),
      ]);
      expected += 4;
      const kb = configOf(home).kb!;
      expect(kb.name, `round ${r}`).toBe(`acme-${r}`);
      expect(kb.refKeyIds, `round ${r}`).toEqual(Array.from({ length: expected }, (_, i) => `k${i + 1}`));
      expect(kb.activeRefKeyId).toBe(`k${expected}`);
    }
    const secrets = new FileSecretStore({ path: join(home, 'secrets.enc'), keyPath: join(home, 'master.key') });
    const values = await Promise.all(configOf(home).kb!.refKeyIds.map((id) => secrets.get(refKeySecretName(id))));
    expect(values.every((v) => typeof v === 'string' && v.length > 0)).toBe(true);
    expect(new Set(values).size).toBe(values.length);
  }, bySize(300_000, 90_000));
});
