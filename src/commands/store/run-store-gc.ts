import type { Deps } from '../../deps.js';
import { ExitCode } from '../../errors.js';
import { approxSize } from '../../config/units.js';
import { collectGarbage } from '../../store/store-gc.js';

/** `mailctl store gc [--dry-run]`: removes stored items no communication refers to, and dead processes' temporary files. */
export async function runStoreGc(deps: Deps, options: { dryRun?: boolean }): Promise<number> {
  const { out } = deps;
  const db = await deps.db();
  const store = await deps.messageStore();
  const result = await collectGarbage(db, store, { dryRun: Boolean(options.dryRun) });
  const verb = options.dryRun ? 'would remove' : 'removed';
  const line = `${store.location}: ${verb} ${result.removed} stored item(s) no communication refers to (${approxSize(result.removedBytes)} on disk)`
    + ` and ${result.temporaries} temporary file(s) of processes that are gone`;
  (result.removed > 0 || result.temporaries > 0 ? out.success.bind(out) : out.line.bind(out))(line);
  if (result.reserved > 0) out.line(`${result.reserved} unreferenced item(s) left: a running mailctl is committing a message that refers to them; a later gc removes what stays unreferenced.`);
  if (options.dryRun) out.line('Nothing was changed (--dry-run).');
  out.data({ ok: true, dryRun: Boolean(options.dryRun), location: store.location, ...result });
  return ExitCode.ok;
}
