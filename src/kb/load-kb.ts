import { ExitCode, UserError } from '../errors.js';
import type { KbConfig, MailctlConfig } from '../config/config-schema.js';
import { loadRefKeys } from '../refs/ref-keys.js';
import type { SecretStore } from '../secrets/secret-store.js';

/** The KB identity, or a clear "run mailctl init first". */
export function requireKb(config: MailctlConfig): KbConfig {
  if (!config.kb) {
    throw new UserError('E_NO_KB', 'This installation has no KB yet.', { command: 'mailctl init', exitCode: ExitCode.config });
  }
  return config.kb;
}

export interface KbKeys {
  kb: KbConfig;
  /** Every key, for decoding. */
  all: Map<string, Buffer>;
  /** The key new mail is sealed with. */
  active: { id: string; bytes: Buffer };
}

/** The KB and all its reference keys from the secret store. */
export async function loadKbKeys(config: MailctlConfig, store: SecretStore): Promise<KbKeys> {
  const kb = requireKb(config);
  const all = await loadRefKeys(store, kb.refKeyIds);
  return { kb, all, active: { id: kb.activeRefKeyId, bytes: all.get(kb.activeRefKeyId)! } };
}
