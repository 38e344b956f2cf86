import type { Clock } from './clock.js';
import type { ConfigStore } from './config/config-store.js';
import type { MailctlPaths } from './config/paths.js';
import { pathsToTrust, requireTrusted } from './fs/trusted-paths.js';
import type { SecretStoreChoice } from './secrets/open-secret-store.js';
import type { Database } from './store/database.js';
import type { SecretStore } from './secrets/secret-store.js';
import { markSecretsChanged } from './config/config-generation.js';
import type { MessageStore } from './store/message-store.js';
import type { Output } from './ui/output.js';
import type { Prompter } from './ui/prompt.js';

/**
 * What a command gets to work with. Stores open lazily and once, so `mailctl --help`
 * loads no database or keyring, and a test can hand in its own.
 */
export interface Deps {
  paths: MailctlPaths;
  clock: Clock;
  out: Output;
  prompt: Prompter;
  /** Environment settings the core needs, read once at the edge. */
  settings: {
    secretBackend?: string | undefined;
    masterKey?: string | undefined;
    /** MAILCTL_ROTATE_STEP_DELAY_MS: a pause between rotate-secret's replacements, to watch (or test) a crash half-way. */
    rotateStepDelayMs?: number | undefined;
  };
  config(): Promise<ConfigStore>;
  secrets(): Promise<SecretStoreChoice>;
  db(): Promise<Database>;
  /** The message store (raw messages, attachments) beside the database. */
  messageStore(): Promise<MessageStore>;
  /** All of standard input (for --secret-stdin and `-` files); never called on a TTY prompt path. */
  readStdin(): Promise<string>;
  /** Closes what was opened. */
  close(): void;
}

export interface DepsInput {
  paths: MailctlPaths;
  clock: Clock;
  out: Output;
  prompt: Prompter;
  settings: Deps['settings'];
  readStdin: () => Promise<string>;
}

/**
 * Wires the real stores behind lazy, memoised getters. Each refuses (UntrustedPathError) when
 * another user could have changed its files or folders: the config store checks on every read,
 * the others once, when opened.
 */
export function createDeps(input: DepsInput): Deps {
  let config: Promise<ConfigStore> | undefined;
  let secrets: Promise<SecretStoreChoice> | undefined;
  let db: Promise<Database> | undefined;
  let openDb: Database | undefined;
  let messageStore: Promise<MessageStore> | undefined;
  const deps: Deps = {
    ...input,
    config: () =>
      (config ??= import('./config/config-store.js').then(({ ConfigStore }) => ConfigStore.open(input.paths.configDir))),
    secrets: () =>
      (secrets ??= Promise.all([deps.config(), import('./secrets/open-secret-store.js'), import('./rotation/rotation-journal.js')]).then(
        async ([store, { openSecretStore }, { recoverRotation, recoveryNotice }]) => {
          requireTrusted(pathsToTrust(input.paths, ['secrets']));
          const choice = await openSecretStore(store, input.paths, { backend: input.settings.secretBackend, masterKey: input.settings.masterKey });
          // A rotate-secret killed half-way is finished or undone before anything reads a secret (one still running is left alone).
          const recovered = await recoverRotation(choice.store, input.paths.dataDir);
          if (recovered) {
            input.out.warn(recoveryNotice(recovered));
            if (recovered.action !== 'running') {
              const [{ AuditRepo }, db] = await Promise.all([import('./store/audit-repo.js'), deps.db()]);
              new AuditRepo(db, input.clock).record({ actor: 'recovery', action: `secret.rotate.${recovered.action}`, target: recovered.journalId, details: { secrets: recovered.secrets } });
            }
          }
          return { ...choice, store: markingChanges(choice.store, input.paths) };
        },
      )),
    db: () =>
      (db ??= import('./store/database.js').then(async ({ openDatabase }) => {
        requireTrusted(pathsToTrust(input.paths, ['database']));
        openDb = await openDatabase(input.paths.databasePath);
        return openDb;
      })),
    messageStore: () =>
      (messageStore ??= import('./store/fs-message-store.js').then(({ FsMessageStore }) => {
        requireTrusted(pathsToTrust(input.paths, ['messages']));
        return new FsMessageStore(input.paths.messageStoreDir);
      })),
    close: () => {
      openDb?.close();
    },
  };
  return deps;
}

/**
 * Every secret written or deleted through mailctl leaves a mark beside config.json, so a
 * running daemon sees rotate-secret, reset-oauth or a new password within its 2 s (a keyring
 * gives no other sign of a change).
 */
function markingChanges(inner: SecretStore, paths: DepsInput['paths']): SecretStore {
  return {
    backend: inner.backend,
    location: inner.location,
    get: (key) => inner.get(key),
    set: async (key, value) => {
      await inner.set(key, value);
      markSecretsChanged(paths);
    },
    delete: async (key) => {
      const deleted = await inner.delete(key);
      if (deleted) markSecretsChanged(paths);
      return deleted;
    },
  };
}
