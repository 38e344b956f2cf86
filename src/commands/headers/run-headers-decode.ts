import type { Deps } from '../../deps.js';
import { ExitCode } from '../../errors.js';
import { loadKbKeys } from '../../kb/load-kb.js';
import { parseHeaderBlock } from '../../mime/header-block.js';
import { findReference } from '../../refs/find-reference.js';
import { tableHash } from '../../refs/reference-codec.js';
import { TablesRepo } from '../../store/tables-repo.js';
import { readTextFile } from '../../ui/read-text-file.js';

/**
 * `mailctl headers decode FILE|-`: which KB, table, record and rule sent this email.
 * How an admin traces an unexpected or duplicate message back to its origin.
 */
export async function runHeadersDecode(deps: Deps, file: string): Promise<number> {
  const { out } = deps;
  const raw = file === '-' ? await deps.readStdin() : readTextFile(file);
  const headers = parseHeaderBlock(raw);
  const config = (await deps.config()).read();
  const { store } = await deps.secrets();
  const keys = await loadKbKeys(config, store);
  const search = findReference(headers, keys.all);
  const found = search.found;

  if (!found) {
    out.error(`No reference from this KB (${keys.kb.name}) in this message.`);
    if (search.rejected.length === 0) out.line('  It carries no mailctl reference at all: it was not sent by mailctl, or every trace was removed on the way.');
    for (const r of search.rejected) out.line(`  ${r.source}: ${r.reason}`);
    out.line('  A message sent by another KB decodes only with that KB\'s keys: run this command there.');
    out.data({ ok: false, found: false, rejected: search.rejected });
    return ExitCode.failure;
  }

  if (found.kind === 'full') {
    const r = found.reference;
    out.success(`Sent by mailctl (found in the ${found.source}, key ${found.keyId}).`);
    out.table(
      [
        ['KB', r.kb],
        ['server URL', r.serverUrl],
        ['table', r.table ?? '(none)'],
        ['record', r.recordId === null ? '(none)' : String(r.recordId)],
        ['rule or workflow', r.origin ?? '(none)'],
        ['sent at', r.sentAt.toISOString()],
      ],
      [{ header: 'FIELD', value: (row) => row[0]! }, { header: 'VALUE', value: (row) => row[1]! }],
    );
    if (r.kb !== keys.kb.name) out.warn(`This KB is "${keys.kb.name}", but the message names KB "${r.kb}": the keys are shared or copied between KBs.`);
    out.data({ ok: true, found: true, source: found.source, keyId: found.keyId, reference: { ...r, sentAt: r.sentAt.toISOString() }, rejected: search.rejected });
    return ExitCode.ok;
  }

  // Only the subject token survived: it names the table by hash and the record.
  const tables = new TablesRepo(await deps.db(), deps.clock).list();
  const table = tables.find((t) => tableHash(t.name) === found.reference.tableHash)?.name ?? null;
  out.success(`Sent by mailctl from this KB (only the subject token survived; key ${found.keyId}).`);
  out.line(`  table:   ${table ?? `(unknown table, hash ${found.reference.tableHash})`}`);
  out.line(`  record:  ${found.reference.recordId ?? '(none)'}`);
  out.line(`  sent at: ${found.reference.sentAt.toISOString()}`);
  out.line('  The rule or workflow is in the full reference, which this copy of the message lost (header and Message-ID).');
  out.data({ ok: true, found: true, source: 'subject', keyId: found.keyId, reference: { kb: keys.kb.name, table, tableHash: found.reference.tableHash, recordId: found.reference.recordId, sentAt: found.reference.sentAt.toISOString() }, rejected: search.rejected });
  return ExitCode.ok;
}
