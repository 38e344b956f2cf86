import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, UserError } from '../errors.js';
import { configRootSchema, configSchema, type MailctlConfig } from './config-schema.js';
import { validateSchema, type SchemaNode } from './validate-schema.js';

const schema = { type: 'object', properties: configSchema, ...configRootSchema } as unknown as SchemaNode;

/**
 * The config file: JSON validated against mailctl's schema, mode 0600 in a 0700 folder,
 * written atomically (temp file, fsync, rename). Every read goes back to the file, so a
 * CLI edit is seen by a running daemon on its next reload. A file that is not valid JSON
 * or breaks the schema is refused with its path and the problem, and never rewritten.
 */
export class ConfigStore {
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
  }

  static async open(dir: string): Promise<ConfigStore> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const store = new ConfigStore(join(dir, 'config.json'));
    store.read(); // a broken file is reported by whatever command opened it
    return store;
  }

  /** The whole config, validated. */
  read(): MailctlConfig {
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

  /** Applies `change` to a copy of the config and writes it atomically (validated first). */
  update(change: (config: MailctlConfig) => void): MailctlConfig {
    const next = structuredClone(this.read());
    change(next);
    next.version = 1;
    const errors = validateSchema(next, schema);
    if (errors.length > 0) {
      throw new UserError('E_CONFIG_INVALID', `Refusing to write an invalid config to ${this.path}: ${errors.join('; ')}`, { exitCode: ExitCode.config });
    }
    const temp = `${this.path}.${process.pid}.tmp`;
    const fd = openSync(temp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(next, null, '\t'));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, this.path);
    if ((statSync(this.path).mode & 0o077) !== 0) chmodSync(this.path, 0o600);
    return next;
  }

}

function broken(path: string, problem: string): UserError {
  return new UserError('E_CONFIG_BROKEN', `The config file ${path} cannot be used: ${problem}.`, {
    fix: 'Fix the file by hand or restore a backup; mailctl has not changed it.',
    exitCode: ExitCode.config,
    details: { path },
  });
}
