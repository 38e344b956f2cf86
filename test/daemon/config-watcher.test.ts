import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { configGeneration } from '../../src/config/config-generation.js';
import { resolvePaths } from '../../src/config/paths.js';
import { ConfigWatcher } from '../../src/daemon/config-watcher.js';
import type { CycleState } from '../../src/daemon/run-cycle.js';
import { createDeps } from '../../src/deps.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import { Output } from '../../src/ui/output.js';
import { nonInteractivePrompter } from '../../src/ui/prompt.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

function depsFor(home: string) {
  const out = new Output({ stdout: new PassThrough(), stderr: new PassThrough(), json: false, color: false });
  return createDeps({ paths: resolvePaths({ MAILCTL_HOME: home }), clock: systemClock, out, prompt: nonInteractivePrompter, settings: { secretBackend: 'file' }, readStdin: async () => '' });
}

const until = async (check: () => boolean, ms: number) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
};

describe('the config watcher: what a running daemon follows without a signal', () => {
  const tempDir = useTempDirs();

  it('a secret written through mailctl (a keyring gives no sign) reaches the daemon as "secrets changed" within a second; the generation changes with it', async () => {
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    expect((await runCli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production'], { env })).code).toBe(0);
    const daemonSide = depsFor(home);
    const applied: Array<{ state: CycleState; secretsChanged: boolean }> = [];
    const recorded: Array<[string, string | null]> = [];
    const watcher = new ConfigWatcher({
      paths: daemonSide.paths, config: await daemonSide.config(), secrets: (await daemonSide.secrets()).store, db: await daemonSide.db(), log: silentLogger, intervalMs: 100,
      apply: (state, how) => applied.push({ state, ...how }),
      databaseChanged: () => undefined,
      record: (generation, error) => recorded.push([generation, error]),
    });
    watcher.start();
    try {
      const before = configGeneration(daemonSide.paths);
      // Another process (a command) writes a secret: rotate-secret, reset-oauth and configure all go through this store.
      const commandSide = depsFor(home);
      await (await commandSide.secrets()).store.set('inbound/contracts/password', 'new-pass');
      commandSide.close();
      expect(await until(() => applied.length > 0, 1500)).toBe(true);
      expect(applied.at(-1)!.secretsChanged).toBe(true);
      const after = configGeneration(daemonSide.paths);
      expect(after).not.toBe(before);
      expect(recorded.at(-1)).toEqual([after, null]);
    } finally {
      watcher.stop();
      daemonSide.close();
    }
  });

  it('a broken config file is not applied: the previous one is kept, the error recorded and logged once; mended, it is applied', async () => {
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    expect((await runCli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production'], { env })).code).toBe(0);
    const deps = depsFor(home);
    const applied: CycleState[] = [];
    const recorded: Array<[string, string | null]> = [];
    const errors: string[] = [];
    const log: Logger = { ...silentLogger, error: (_facts, message) => errors.push(message) };
    const watcher = new ConfigWatcher({
      paths: deps.paths, config: await deps.config(), secrets: (await deps.secrets()).store, db: await deps.db(), log, intervalMs: 50,
      apply: (state) => applied.push(state), databaseChanged: () => undefined, record: (generation, error) => recorded.push([generation, error]),
    });
    watcher.start();
    try {
      const { readFileSync, writeFileSync } = await import('node:fs');
      const path = join(home, 'config.json');
      const good = readFileSync(path, 'utf8');
      writeFileSync(path, good.slice(0, -3));
      expect(await until(() => recorded.some(([, e]) => e !== null), 1500)).toBe(true);
      expect(applied).toEqual([]);
      expect(recorded.at(-1)![1]).toMatch(/not valid JSON/);
      const seen = recorded.length;
      writeFileSync(path, good.slice(0, -3)); // written again, still broken the same way: looked at, not logged again
      expect(await until(() => recorded.length > seen, 1500)).toBe(true);
      expect(errors.filter((e) => e.includes('keeps running on the previous one'))).toHaveLength(1);
      writeFileSync(path, good);
      expect(await until(() => applied.length === 1, 1500)).toBe(true);
      expect(recorded.at(-1)).toEqual([configGeneration(deps.paths), null]);
    } finally {
      watcher.stop();
      deps.close();
    }
  });

  it('another process committing to the database (a message queued) wakes the queue', async () => {
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    expect((await runCli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production'], { env })).code).toBe(0);
    const deps = depsFor(home);
    let wakes = 0;
    const watcher = new ConfigWatcher({
      paths: deps.paths, config: await deps.config(), secrets: (await deps.secrets()).store, db: await deps.db(), log: silentLogger, intervalMs: 50,
      apply: () => undefined, databaseChanged: () => wakes++, record: () => undefined,
    });
    watcher.start();
    try {
      await new Promise((r) => setTimeout(r, 200));
      expect(wakes).toBe(0);
      expect((await runCli(['tables', 'add', 'contracts'], { env })).code).toBe(0);
      expect(await until(() => wakes > 0, 1000)).toBe(true);
    } finally {
      watcher.stop();
      deps.close();
    }
  });
});
