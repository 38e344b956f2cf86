import type { Deps } from '../../deps.js';

/** `mailctl secrets status`: which backend, where, and why. */
export async function runSecretsStatus(deps: Deps): Promise<number> {
  const { store, reason, recorded } = await deps.secrets();
  const { out } = deps;
  out.line(`Secret backend: ${out.color.bold(store.backend === 'keyring' ? 'OS keyring' : 'encrypted file')}`);
  out.line(`  where: ${store.location}`);
  out.line(`  why:   ${reason}`);
  if (!recorded) out.line('  (not recorded yet: the first stored secret fixes this choice in the config)');
  if (store.backend === 'file' && !deps.settings.masterKey) {
    out.line('  note:  the key file sits beside the config; set MAILCTL_MASTER_KEY to keep the key elsewhere.');
  }
  out.data({ ok: true, backend: store.backend, location: store.location, reason, recorded });
  return 0;
}
