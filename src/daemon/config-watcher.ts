import { readFileSync } from 'node:fs';
import type { ConfigStore } from '../config/config-store.js';
import { configFingerprint, configGeneration, secretsMarkPath } from '../config/config-generation.js';
import { resolveGlobals } from '../config/globals.js';
import type { MailctlPaths } from '../config/paths.js';
import { loadKbKeys } from '../kb/load-kb.js';
import type { Logger } from '../logger.js';
import type { SecretStore } from '../secrets/secret-store.js';
import type { Database } from '../store/database.js';
import type { CycleState } from './run-cycle.js';

export interface ConfigWatcherOptions {
  paths: MailctlPaths;
  config: ConfigStore;
  secrets: SecretStore;
  db: Database;
  log: Logger;
  /** How often the files and the database are looked at (ms); 250 keeps a change within the 2 s promised. */
  intervalMs?: number;
  /** A good new configuration: run on it. */
  apply: (state: CycleState, options: { secretsChanged: boolean }) => unknown;
  /** Another process wrote to the database (a message queued): the queue is looked at now. */
  databaseChanged: () => void;
  /** What the daemon runs on now: `error` set while a broken file is ignored (the previous configuration is kept). */
  record: (generation: string, error: string | null) => void;
}

/** How long the files must be still before a change is loaded (ms). */
const settleMs = 150;
/** A change is loaded this long after it was first seen at the latest, even if writes go on (ms). */
const maxSettleMs = 1000;

/** Loads the configuration as a daemon runs on it: the config file, its globals, and the KB's keys from the secret store. */
export async function loadCycleState(config: ConfigStore, secrets: SecretStore): Promise<CycleState> {
  const read = config.read();
  const keys = await loadKbKeys(read, secrets);
  return { config: read, keys, globals: resolveGlobals(read.globals ?? {}) };
}

function secretsMark(paths: MailctlPaths): string {
  try {
    return readFileSync(secretsMarkPath(paths), 'utf8');
  } catch {
    return '';
  }
}

/**
 * Watches, a few times a second, what a running daemon must follow without a signal: the config
 * file (accounts, outbound server, globals such as the kill switch), the mark every secret write
 * leaves (rotate-secret, reset-oauth, a new password), and the database's data_version (another
 * process queued a message). Looking at them costs two stat() calls and one PRAGMA. A config file
 * broken by hand is not applied: the daemon keeps the last good configuration, logs why once
 * per distinct problem, and records it for `status`. SQLite's data_version changes with every
 * commit by another connection (https://www.sqlite.org/pragma.html#pragma_data_version).
 */
export class ConfigWatcher {
  readonly #o: ConfigWatcherOptions;
  #fingerprint: string;
  #mark: string;
  #dataVersion: number;
  #timer: NodeJS.Timeout | undefined;
  #loading: Promise<void> | undefined;
  #again = false;
  #lastError: string | null = null;
  #settling = false;

  constructor(options: ConfigWatcherOptions) {
    this.#o = options;
    this.#fingerprint = configFingerprint(options.paths);
    this.#mark = secretsMark(options.paths);
    this.#dataVersion = this.#readDataVersion();
  }

  /** Records the configuration the daemon started on, then looks every intervalMs. */
  start(): void {
    this.#record(configGeneration(this.#o.paths), null);
    this.#timer = setInterval(() => this.#look(), this.#o.intervalMs ?? 250);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Loads the configuration now, changed or not (SIGHUP). */
  reloadNow(): Promise<void> {
    return this.#reload('SIGHUP');
  }

  #readDataVersion(): number {
    try {
      return this.#o.db.pragma('data_version', { simple: true }) as number;
    } catch {
      return -1;
    }
  }

  #look(): void {
    const version = this.#readDataVersion();
    if (version !== this.#dataVersion) {
      this.#dataVersion = version;
      this.#o.databaseChanged();
    }
    const fingerprint = configFingerprint(this.#o.paths);
    if (fingerprint === this.#fingerprint || this.#settling) return;
    // One command often writes twice (a secret, then the config): loaded once both are written,
    // when the files have been still for settleMs (at most maxSettleMs after the first change),
    // so an account is restarted and polled once, not twice.
    this.#settling = true;
    const first = Date.now();
    const settle = (seen: string) => {
      setTimeout(() => {
        const now = configFingerprint(this.#o.paths);
        if (now !== seen && Date.now() - first < maxSettleMs) return settle(now);
        this.#settling = false;
        this.#fingerprint = now;
        void this.#reload('changed');
      }, settleMs).unref();
    };
    settle(fingerprint);
  }

  /** One load at a time; a change during a load is loaded after it. */
  #reload(why: 'changed' | 'SIGHUP'): Promise<void> {
    if (this.#loading) {
      this.#again = true;
      return this.#loading;
    }
    this.#loading = (async () => {
      do {
        this.#again = false;
        await this.#loadOnce(why);
      } while (this.#again);
    })().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  async #loadOnce(why: 'changed' | 'SIGHUP'): Promise<void> {
    const { log, paths } = this.#o;
    let generation: string;
    try {
      generation = configGeneration(paths);
      const state = await loadCycleState(this.#o.config, this.#o.secrets);
      const mark = secretsMark(paths);
      const secretsChanged = mark !== this.#mark;
      this.#mark = mark;
      const changes = this.#o.apply(state, { secretsChanged });
      this.#lastError = null;
      this.#record(generation, null);
      log.info({ reason: why, ...(changes && typeof changes === 'object' ? changes : {}) }, why === 'SIGHUP' ? 'configuration reloaded (SIGHUP)' : 'configuration changed: the daemon runs on it now');
    } catch (error) {
      const message = (error as Error).message;
      if (message !== this.#lastError) log.error({ error: message }, 'the configuration cannot be loaded; the daemon keeps running on the previous one');
      this.#lastError = message;
      try {
        this.#record(configGeneration(paths), message);
      } catch {
        // The file cannot even be read: the log says why.
      }
    }
  }

  #record(generation: string, error: string | null): void {
    try {
      this.#o.record(generation, error);
    } catch (recordError) {
      this.#o.log.error({ error: (recordError as Error).message }, 'recording which configuration the daemon runs on failed');
    }
  }
}
