import { randomUUID } from 'node:crypto';
import { ExitCode, UsageError, UserError } from '../errors.js';
import type { ConfigStore } from '../config/config-store.js';
import type { MailctlPaths } from '../config/paths.js';
import { FileSecretStore } from './file-secret-store.js';
import { KeyringSecretStore, probeKeyring } from './keyring-secret-store.js';
import type { SecretStore } from './secret-store.js';

export interface SecretStoreChoice {
  store: SecretStore;
  /** Why this backend: forced by the environment, recorded in the config, or detected. */
  reason: string;
  /** Whether the choice is already recorded in the config. */
  recorded: boolean;
}

export interface SecretStoreEnv {
  /** MAILCTL_SECRET_BACKEND */
  backend?: string | undefined;
  /** MAILCTL_MASTER_KEY */
  masterKey?: string | undefined;
}

/**
 * Picks the secret backend: the admin's MAILCTL_SECRET_BACKEND, else the one recorded
 * in the config, else a persistent keyring if one answers, else the encrypted file.
 * The first write records the choice, so secrets never seem to vanish because a
 * keyring came or went between two runs.
 */
export async function openSecretStore(config: ConfigStore, paths: MailctlPaths, env: SecretStoreEnv): Promise<SecretStoreChoice> {
  const forced = env.backend?.trim() || undefined;
  if (forced !== undefined && forced !== 'keyring' && forced !== 'file') {
    throw new UsageError('E_SECRET_BACKEND', `MAILCTL_SECRET_BACKEND is "${forced}", expected "keyring" or "file".`);
  }
  const current = config.read();
  const installationId = current.installationId ?? randomUUID();
  const service = `mailctl/${installationId}`;
  const wanted = forced ?? current.secretBackend;

  let backend: 'keyring' | 'file';
  let reason: string;
  if (wanted === 'file') {
    backend = 'file';
    reason = forced ? 'MAILCTL_SECRET_BACKEND=file' : 'recorded in the config when the first secret was stored';
  } else {
    const probe = await probeKeyring(service);
    if (wanted === 'keyring' && !probe.usable) {
      throw new UserError('E_KEYRING_UNAVAILABLE', `Secrets are kept in the keyring, but it cannot be used: ${probe.reason}.`, {
        fix: 'Start and unlock the keyring (gnome-keyring-daemon --unlock in a D-Bus session).',
        command: 'mailctl secrets status',
        exitCode: ExitCode.secrets,
      });
    }
    backend = probe.usable ? 'keyring' : 'file';
    reason = wanted ? (forced ? 'MAILCTL_SECRET_BACKEND=keyring' : 'recorded in the config when the first secret was stored') : probe.reason;
  }

  const inner: SecretStore = backend === 'keyring'
    ? await KeyringSecretStore.open(service)
    : new FileSecretStore({ path: paths.secretFilePath, keyPath: paths.secretKeyPath, masterKey: env.masterKey });
  const recorded = current.secretBackend === backend && current.installationId !== undefined;
  return { store: recorded ? inner : recordOnFirstWrite(inner, config, backend, installationId), reason, recorded };
}

function recordOnFirstWrite(inner: SecretStore, config: ConfigStore, backend: 'keyring' | 'file', installationId: string): SecretStore {
  let done = false;
  const record = () => {
    if (done) return;
    config.update((c) => {
      c.installationId ??= installationId;
      c.secretBackend = backend;
    });
    done = true;
  };
  return {
    backend: inner.backend,
    location: inner.location,
    get: (key) => inner.get(key),
    delete: (key) => inner.delete(key),
    set: async (key, value) => {
      await inner.set(key, value);
      record();
    },
  };
}
