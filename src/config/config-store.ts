import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, UserError } from '../errors.js';
import { configRootSchema, configSchema, type MailctlConfig } from './config-schema.js';

/**
 * The config file: conf underneath (JSON schema validation, atomic writes), mode 0600
 * in a 0700 folder. Every read goes back to the file, so a CLI edit is seen by a
 * running daemon on its next reload.
 */
export class ConfigStore {
  readonly path: string;
  readonly #conf: import('conf').default<MailctlConfig>;

  private constructor(path: string, conf: import('conf').default<MailctlConfig>) {
    this.path = path;
    this.#conf = conf;
  }

  /**
   * Opens the config in `dir`. A file that is not valid JSON or breaks the schema is
   * left untouched and reported with its path and the problem.
   */
  static async open(dir: string): Promise<ConfigStore> {
    const path = join(dir, 'config.json');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { default: Conf } = await import('conf');
    try {
      const conf = new Conf<MailctlConfig>({
        cwd: dir,
        configName: 'config',
        configFileMode: 0o600,
        clearInvalidConfig: false,
        accessPropertiesByDotNotation: false,
        schema: configSchema as never,
        rootSchema: configRootSchema as never,
      });
      return new ConfigStore(path, conf);
    } catch (error) {
      throw brokenConfigError(path, error);
    }
  }

  /** The whole config, validated. */
  read(): MailctlConfig {
    try {
      return this.#conf.store;
    } catch (error) {
      throw brokenConfigError(this.path, error);
    }
  }

  /** Applies `change` to a copy of the config and writes it atomically (validated first). */
  update(change: (config: MailctlConfig) => void): MailctlConfig {
    const next = structuredClone(this.read());
    change(next);
    next.version = 1;
    try {
      this.#conf.store = next;
    } catch (error) {
      throw new UserError('E_CONFIG_INVALID', `Refusing to write an invalid config to ${this.path}: ${messageOf(error)}`, {
        exitCode: ExitCode.config,
      });
    }
    // atomically keeps an existing file's mode on some paths; make sure it is 0600.
    if (existsSync(this.path) && (statSync(this.path).mode & 0o077) !== 0) chmodSync(this.path, 0o600);
    return next;
  }

  /** The raw text of the file, for tests and for `doctor`'s permission check. */
  rawText(): string | undefined {
    return existsSync(this.path) ? readFileSync(this.path, 'utf8') : undefined;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function brokenConfigError(path: string, error: unknown): UserError {
  if (error instanceof UserError) return error;
  const message = messageOf(error);
  const problem = error instanceof SyntaxError
    ? `it is not valid JSON (${message})`
    : message.startsWith('Config schema violation:')
      ? `it does not match mailctl's schema (${message.replace('Config schema violation: ', '')})`
      : message;
  return new UserError('E_CONFIG_BROKEN', `The config file ${path} cannot be used: ${problem}.`, {
    fix: 'Fix the file by hand or restore a backup; mailctl has not changed it.',
    exitCode: ExitCode.config,
    details: { path },
  });
}
