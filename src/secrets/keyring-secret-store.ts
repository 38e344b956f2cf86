import { ExitCode, UserError } from '../errors.js';
import type { SecretStore } from './secret-store.js';

type EntryClass = typeof import('@napi-rs/keyring').Entry;

/**
 * Secrets in the OS keyring (Secret Service on Linux, e.g. gnome-keyring). Pinned to
 * the Secret Service: @napi-rs/keyring would otherwise fall back silently to the kernel
 * keyring, which forgets everything at reboot.
 */
export class KeyringSecretStore implements SecretStore {
  readonly backend = 'keyring' as const;
  readonly location: string;
  readonly #Entry: EntryClass;
  readonly #service: string;

  private constructor(Entry: EntryClass, service: string) {
    this.#Entry = Entry;
    this.#service = service;
    this.location = `Secret Service keyring, service "${service}"`;
  }

  /** `service` namespaces one installation's secrets (several MAILCTL_HOMEs can share a keyring). */
  static async open(service: string): Promise<KeyringSecretStore> {
    const { Entry } = await import('@napi-rs/keyring');
    return new KeyringSecretStore(Entry, service);
  }

  #entry(key: string) {
    return new this.#Entry(this.#service, key, { linux: { store: 'secret-service' } });
  }

  async get(key: string): Promise<string | undefined> {
    return this.#guard(key, () => this.#entry(key).getPassword() ?? undefined);
  }

  async set(key: string, value: string): Promise<void> {
    this.#guard(key, () => this.#entry(key).setPassword(value));
  }

  async delete(key: string): Promise<boolean> {
    return this.#guard(key, () => this.#entry(key).deletePassword());
  }

  #guard<T>(key: string, work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw new UserError('E_KEYRING', `The keyring could not be used for "${key}": ${(error as Error).message}`, {
        fix: 'Unlock the keyring (gnome-keyring-daemon --unlock), or move to the encrypted file store with MAILCTL_SECRET_BACKEND=file.',
        command: 'mailctl secrets status',
        exitCode: ExitCode.secrets,
      });
    }
  }
}

/**
 * Whether a persistent keyring is usable right now: a round trip through the Secret
 * Service with a throwaway entry. The reason is shown by `secrets status`.
 */
export async function probeKeyring(service: string): Promise<{ usable: boolean; reason: string }> {
  let Entry: EntryClass;
  try {
    ({ Entry } = await import('@napi-rs/keyring'));
  } catch (error) {
    return { usable: false, reason: `the keyring module did not load (${(error as Error).message})` };
  }
  try {
    const probe = new Entry(service, '__mailctl_probe__', { linux: { store: 'secret-service' } });
    const value = `probe-${process.pid}-${Date.now()}`;
    probe.setPassword(value);
    const back = probe.getPassword();
    probe.deletePassword();
    if (back !== value) return { usable: false, reason: 'the Secret Service did not return what was stored' };
    return { usable: true, reason: 'a Secret Service keyring answered a store-and-read test' };
  } catch (error) {
    const message = (error as Error).message;
    return {
      usable: false,
      reason: `no Secret Service keyring (${message.split('\n')[0]}); the kernel keyring fallback would not survive a reboot`,
    };
  }
}
