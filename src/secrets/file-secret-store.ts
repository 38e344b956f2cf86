import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { chmodSync, closeSync, constants as fsConstants, copyFileSync, existsSync, fsyncSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { UserError, ExitCode } from '../errors.js';
import { diskWriteError } from '../fs/disk-write-error.js';
import { acquireFileLock } from '../fs/file-lock.js';
import { createExclusive, replaceFile, temporaryPathFor } from '../fs/replace-file.js';
import type { SecretStore } from './secret-store.js';

interface EncryptedEntry { iv: string; tag: string; data: string }
interface SecretFile { version: 1; kdf: 'raw' | 'scrypt'; salt?: string; entries: Record<string, EncryptedEntry> }

export interface FileSecretStoreOptions {
  /** The encrypted file, e.g. ~/.local/share/mailctl/secrets.enc */
  path: string;
  /** Where a generated key is kept when no master key is given. */
  keyPath: string;
  /** MAILCTL_MASTER_KEY when set: 64 hex chars or base64 of 32 bytes is used as is, anything else is a passphrase. */
  masterKey?: string | undefined;
}

/**
 * Secrets in one AES-256-GCM encrypted file, for machines with no persistent keyring
 * (headless servers). Each entry has its own IV and uses its key name as associated
 * data, so entries cannot be swapped between names without detection.
 */
export class FileSecretStore implements SecretStore {
  readonly backend = 'file' as const;
  readonly location: string;
  readonly #options: FileSecretStoreOptions;
  #key: Buffer | undefined;

  constructor(options: FileSecretStoreOptions) {
    this.#options = options;
    this.location = options.masterKey
      ? `${options.path} (key from MAILCTL_MASTER_KEY)`
      : `${options.path} (key in ${options.keyPath})`;
  }

  async get(key: string): Promise<string | undefined> {
    const file = this.#read();
    const entry = file.entries[key];
    if (!entry) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#keyFor(file), Buffer.from(entry.iv, 'base64'));
      decipher.setAAD(Buffer.from(key, 'utf8'));
      decipher.setAuthTag(Buffer.from(entry.tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(entry.data, 'base64')), decipher.final()]).toString('utf8');
    } catch {
      throw new UserError('E_SECRET_DECRYPT', `Cannot decrypt secret "${key}" in ${this.#options.path}.`, {
        fix: 'The master key differs from the one the file was written with. Set MAILCTL_MASTER_KEY to the original key, or restore the key file.',
        exitCode: ExitCode.secrets,
      });
    }
  }

  async set(key: string, value: string): Promise<void> {
    this.#withLock(() => {
      const file = this.#read();
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', this.#keyFor(file), iv);
      cipher.setAAD(Buffer.from(key, 'utf8'));
      const data = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
      file.entries[key] = { iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
      this.#write(file);
    });
  }

  async delete(key: string): Promise<boolean> {
    return this.#withLock(() => {
      const file = this.#read();
      if (!(key in file.entries)) return false;
      delete file.entries[key];
      this.#write(file);
      return true;
    });
  }

  #read(): SecretFile {
    const { path } = this.#options;
    if (!existsSync(path)) {
      return this.#options.masterKey && !isRawKey(this.#options.masterKey)
        ? { version: 1, kdf: 'scrypt', salt: randomBytes(16).toString('base64'), entries: {} }
        : { version: 1, kdf: 'raw', entries: {} };
    }
    try {
      const parsed = JSON.parse(readFileSync(path, 'utf8')) as SecretFile;
      if (parsed.version !== 1 || typeof parsed.entries !== 'object' || parsed.entries === null) throw new Error('unknown format');
      return parsed;
    } catch (error) {
      throw new UserError('E_SECRET_FILE', `The secret file ${path} is unreadable: ${(error as Error).message}.`, {
        fix: 'Restore it from a backup; mailctl left it untouched.',
        exitCode: ExitCode.secrets,
      });
    }
  }

  #write(file: SecretFile): void {
    const { path } = this.#options;
    makeFolder(dirname(path));
    replaceFile(path, JSON.stringify(file, null, 2), { mode: 0o600, what: 'the secret file', exitCode: ExitCode.secrets });
  }

  #keyFor(file: SecretFile): Buffer {
    if (this.#key) return this.#key;
    const { masterKey, keyPath } = this.#options;
    if (masterKey) {
      const raw = rawKeyBytes(masterKey);
      if (raw) this.#key = raw;
      else this.#key = scryptSync(masterKey, Buffer.from(file.salt ?? '', 'base64'), 32);
      return this.#key;
    }
    if (!existsSync(keyPath)) {
      makeFolder(dirname(keyPath));
      createKeyFile(keyPath);
    }
    const mode = statSync(keyPath).mode & 0o777;
    if (mode & 0o077) chmodSync(keyPath, 0o600);
    const key = Buffer.from(readFileSync(keyPath, 'utf8').trim(), 'base64');
    if (key.length !== 32) {
      throw new UserError('E_SECRET_KEYFILE', `The key file ${keyPath} does not hold a 32-byte key.`, { exitCode: ExitCode.secrets });
    }
    this.#key = key;
    return key;
  }

  /**
   * A lock file so the daemon and a CLI command never lose each other's writes. A live holder
   * is waited for (10 s), never pushed aside; one whose process is gone is taken over.
   */
  #withLock<T>(work: () => T): T {
    const lockPath = `${this.#options.path}.lock`;
    makeFolder(dirname(lockPath));
    const lock = acquireFileLock(lockPath, { what: 'the secret file', code: 'E_SECRET_LOCKED', exitCode: ExitCode.secrets });
    try {
      return work();
    } finally {
      lock.release();
    }
  }
}

function makeFolder(folder: string): void {
  try {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw diskWriteError(error, folder, { what: 'the secret file\'s folder', exitCode: ExitCode.secrets }) ?? error;
  }
}

/**
 * Writes a new random key to `keyPath` unless one is there: whole or not at all (a temporary
 * file, fsynced, then linked to the name, which fails if another process made the key first —
 * then that key is the one). A full disk leaves no empty key file behind.
 */
function createKeyFile(keyPath: string): void {
  const temp = temporaryPathFor(keyPath);
  try {
    const fd = createExclusive(temp, 0o600);
    try {
      writeSync(fd, randomBytes(32).toString('base64') + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(temp, keyPath);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
      // A filesystem without hard links: an exclusive copy never replaces a key either.
      try {
        copyFileSync(temp, keyPath, fsConstants.COPYFILE_EXCL);
      } catch (copyError) {
        if ((copyError as NodeJS.ErrnoException).code !== 'EEXIST') throw copyError;
      }
    }
  } catch (error) {
    throw diskWriteError(error, keyPath, { what: 'the master key file', exitCode: ExitCode.secrets }) ?? error;
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // never created
    }
  }
}

function isRawKey(text: string): boolean {
  return rawKeyBytes(text) !== undefined;
}

function rawKeyBytes(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (/^[0-9a-f]{64}$/i.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/]{43}=$/.test(trimmed)) {
    const bytes = Buffer.from(trimmed, 'base64');
    if (bytes.length === 32) return bytes;
  }
  return undefined;
}
