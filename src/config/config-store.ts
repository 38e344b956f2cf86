import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ExitCode, UserError } from '../errors.js';
import { diskWriteError } from '../fs/disk-write-error.js';
import { acquireFileLock, type FileLock } from '../fs/file-lock.js';
import { replaceFile } from '../fs/replace-file.js';
import { requireTrusted, type PathToTrust } from '../fs/trusted-paths.js';
import { configRootSchema, configSchema, type MailctlConfig } from './config-schema.js';
import { validateSchema, type SchemaNode } from './validate-schema.js';

const schema = { type: 'object', properties: configSchema, ...configRootSchema } as unknown as SchemaNode;

/** How long a config write waits for another one to finish (a read-modify-write takes milliseconds; keys rotate, a little more). */
export const configLockWaitMs = 10_000;

/** Lock files this process holds, by path, with how many holds are open (a write inside a transaction is already serialised). */
const held = new Map<string, { lock: FileLock; depth: number }>();

/**
 * The config file: JSON validated against mailctl's schema, mode 0600 in a 0700 folder,
 * written atomically (a temporary file created exclusively under a random name, fsync,
 * rename). Every read goes back to the file, so a CLI edit is seen by a running daemon on its
 * next reload, and first checks that no other user could have changed the file or its folder
 * (UntrustedPathError). A file that is not valid JSON or breaks the schema is refused with its
 * path and the problem, and never rewritten. Every write is a read-modify-write under the lock
 * file `config.json.lock`, so concurrent writers (two `config set`, the daemon recording the
 * secret backend) never lose each other's change.
 */
export class ConfigStore {
  readonly path: string;
  readonly #trusted: PathToTrust[];
  /** Serialises this process's transactions: the file lock is per process, not per caller. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(path: string) {
    this.path = path;
    this.#trusted = [
      { path: dirname(path), kind: 'parents', holds: 'mailctl\'s configuration' },
      { path: dirname(path), kind: 'folder', holds: 'mailctl\'s configuration' },
      { path, kind: 'file', holds: 'the configuration' },
    ];
  }

  static async open(dir: string): Promise<ConfigStore> {
    // A folder that exists already keeps its mode: a 0777 one is refused by the read below. Nor
    // is a folder made inside a folder another user could swap for their own.
    requireTrusted([{ path: dir, kind: 'parents', holds: 'mailctl\'s configuration' }]);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw diskWriteError(error, dir, { what: 'the configuration folder', exitCode: ExitCode.config }) ?? error;
    }
    const store = new ConfigStore(join(dir, 'config.json'));
    store.read(); // a broken (or untrusted) file is reported by whatever command opened it
    return store;
  }

  /** The whole config, validated; UntrustedPathError when another user could have changed it. */
  read(): MailctlConfig {
    requireTrusted(this.#trusted);
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw broken(this.path, (error as Error).message);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw broken(this.path, `it is not valid JSON (${(error as Error).message})`);
    }
    const errors = validateSchema(parsed, schema);
    if (errors.length > 0) throw broken(this.path, `it does not match mailctl's schema (${errors.slice(0, 5).join('; ')})`);
    return parsed as MailctlConfig;
  }

  /**
   * Applies `change` to a copy of the config as it is on disk now and writes it atomically
   * (validated first), all under the config lock. `change` must not await: whatever it needs
   * from other stores is fetched before, or the whole is done in `transaction`.
   */
  update(change: (config: MailctlConfig) => void): MailctlConfig {
    return this.#locked(() => {
      const next = structuredClone(this.read());
      change(next);
      next.version = 1;
      const errors = validateSchema(next, schema);
      if (errors.length > 0) {
        throw new UserError('E_CONFIG_INVALID', `Refusing to write an invalid config to ${this.path}: ${errors.join('; ')}`, { exitCode: ExitCode.config });
      }
      replaceFile(this.path, JSON.stringify(next, null, '\t'), { mode: 0o600, what: 'the config file', exitCode: ExitCode.config });
      return next;
    });
  }

  /**
   * Runs `work` holding the config lock, for a change that reads the config, awaits something
   * (a new key into the secret store) and then writes: no other writer, in this process or
   * another, runs in between. `update` inside `work` reads the file again and does not wait.
   * Not re-entrant: `work` must not start another transaction.
   */
  transaction<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(async () => {
      const hold = this.#hold();
      try {
        return await work();
      } finally {
        hold.release();
      }
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #locked<T>(work: () => T): T {
    const hold = this.#hold();
    try {
      return work();
    } finally {
      hold.release();
    }
  }

  /** Takes the lock file, or counts one more hold when this process has it already. */
  #hold(): { release(): void } {
    const lockPath = `${this.path}.lock`;
    let entry = held.get(lockPath);
    if (entry) entry.depth++;
    else {
      entry = { lock: acquireFileLock(lockPath, { what: 'the config file', waitMs: configLockWaitMs, code: 'E_CONFIG_LOCKED', exitCode: ExitCode.config }), depth: 1 };
      held.set(lockPath, entry);
    }
    const mine = entry;
    return {
      release: () => {
        if (--mine.depth === 0) {
          held.delete(lockPath);
          mine.lock.release();
        }
      },
    };
  }
}

function broken(path: string, problem: string): UserError {
  return new UserError('E_CONFIG_BROKEN', `The config file ${path} cannot be used: ${problem}.`, {
    fix: 'Fix the file by hand or restore a backup; mailctl has not changed it. A running daemon keeps its previous configuration meanwhile (mail still goes): to stop it now, stop the daemon (systemctl stop mailctl, or kill -TERM its pid from mailctl status).',
    exitCode: ExitCode.config,
    details: { path },
  });
}
