import type { Deps } from '../../deps.js';
import { ExitCode, UserError } from '../../errors.js';
import { requireKb } from '../../kb/load-kb.js';
import { createRefKey, nextRefKeyId } from '../../refs/ref-keys.js';
import { AuditRepo } from '../../store/audit-repo.js';

/** `mailctl keys list`: the KB's reference keys (ids only). */
export async function runKeysList(deps: Deps): Promise<number> {
  const kb = requireKb((await deps.config()).read());
  deps.out.table(kb.refKeyIds.map((id) => ({ id, active: id === kb.activeRefKeyId })), [
    { header: 'KEY', value: (k) => k.id },
    { header: 'USE', value: (k) => (k.active ? 'seals new mail, decodes' : 'decodes older mail') },
  ]);
  deps.out.data({ ok: true, keys: kb.refKeyIds, active: kb.activeRefKeyId });
  return ExitCode.ok;
}

/** `mailctl keys rotate`: a new key seals new mail; older keys keep decoding replies to older mail. */
export async function runKeysRotate(deps: Deps): Promise<number> {
  const configStore = await deps.config();
  const { store } = await deps.secrets();
  // Under the config lock from the read to the write: two rotations at once must not both pick k2.
  const { kb, id } = await configStore.transaction(async () => {
    const kb = requireKb(configStore.read());
    const id = nextRefKeyId(kb.refKeyIds);
    if (Number(id.slice(1)) > 255) throw new UserError('E_KEYS_FULL', 'This KB has used all 255 reference key ids.', { exitCode: ExitCode.failure });
    await createRefKey(store, id);
    configStore.update((config) => {
      config.kb = { ...kb, refKeyIds: [...kb.refKeyIds, id], activeRefKeyId: id };
    });
    return { kb, id };
  });
  new AuditRepo(await deps.db(), deps.clock).record({ actor: 'cli', action: 'keys.rotate', target: id, details: { previous: kb.activeRefKeyId } });
  deps.out.success(`New reference key ${id} now seals outbound mail; ${kb.refKeyIds.join(', ')} still decode replies to older mail.`);
  deps.out.data({ ok: true, active: id, keys: [...kb.refKeyIds, id] });
  return ExitCode.ok;
}
