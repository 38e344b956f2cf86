import type { Deps } from '../../deps.js';
import { ExitCode, UsageError, UserError } from '../../errors.js';
import { loadKbKeys } from '../../kb/load-kb.js';
import { parseHeaderBlock } from '../../mime/header-block.js';
import { describeReference } from '../../refs/describe-reference.js';
import { CommunicationsRepo } from '../../store/communications-repo.js';
import { storedHeaderText } from '../../store/stored-content-of.js';
import { TablesRepo } from '../../store/tables-repo.js';
import { mailLine } from '../../ui/output.js';
import { readTextFile } from '../../ui/read-text-file.js';
import { parseCommId } from '../comms/comm-id.js';

/**
 * `mailctl headers decode FILE|-` or `--comm ID`: which KB, table, record and rule sent this
 * email. How an admin traces an unexpected or duplicate message back to its origin; with
 * --comm, from the header block stored with a communication.
 */
export async function runHeadersDecode(deps: Deps, file: string | undefined, options: { comm?: string } = {}): Promise<number> {
  const { out } = deps;
  if ((file === undefined) === (options.comm === undefined)) {
    throw new UsageError('E_USAGE', 'Give a file (or - for standard input), or --comm ID: one of the two.', { command: 'mailctl headers decode unexpected.eml' });
  }
  const raw = options.comm !== undefined ? await headersOfCommunication(deps, options.comm) : file === '-' ? await deps.readStdin() : readTextFile(file!);
  const headers = parseHeaderBlock(raw);
  const config = (await deps.config()).read();
  const { store } = await deps.secrets();
  const keys = await loadKbKeys(config, store);
  const tables = new TablesRepo(await deps.db(), deps.clock);
  const { view: r, rejected } = describeReference(headers, keys.all, keys.kb.name, () => tables.list().map((t) => t.name));

  if (!r) {
    out.error(`No reference from this KB (${keys.kb.name}) in this message.`);
    if (rejected.length === 0) out.line('  It carries no mailctl reference at all: it was not sent by mailctl, or every trace was removed on the way.');
    for (const x of rejected) out.line(`  ${x.source}: ${mailLine(x.reason)}`);
    out.line('  A message sent by another KB decodes only with that KB\'s keys: run this command there.');
    out.data({ ok: false, found: false, rejected });
    return ExitCode.failure;
  }

  if (!r.subjectOnly) {
    out.success(`Sent by mailctl (found in the ${r.source}, key ${r.keyId}).`);
    out.table(
      [
        ['KB', r.kb],
        ['server URL', r.serverUrl ?? ''],
        ['table', r.table ?? '(none)'],
        ['record', r.recordId === null ? '(none)' : String(r.recordId)],
        ['rule or workflow', r.origin ?? '(none)'],
        ['sent at', r.sentAt],
      ],
      [{ header: 'FIELD', value: (row) => row[0]! }, { header: 'VALUE', value: (row) => mailLine(row[1]!) }],
    );
    if (r.kb !== keys.kb.name) out.warn(`This KB is "${keys.kb.name}", but the message names KB "${mailLine(r.kb)}": the keys are shared or copied between KBs.`);
    out.data({ ok: true, found: true, source: r.source, keyId: r.keyId, reference: { kb: r.kb, serverUrl: r.serverUrl, table: r.table, recordId: r.recordId, origin: r.origin, sentAt: r.sentAt }, rejected });
    return ExitCode.ok;
  }

  // Only the subject token survived: it names the table by hash and the record.
  out.success(`Sent by mailctl from this KB (only the subject token survived; key ${r.keyId}).`);
  out.line(`  table:   ${r.table ?? `(unknown table, hash ${r.tableHash})`}`);
  out.line(`  record:  ${r.recordId ?? '(none)'}`);
  out.line(`  sent at: ${r.sentAt}`);
  out.line('  The rule or workflow is in the full reference, which this copy of the message lost (header and Message-ID).');
  out.data({ ok: true, found: true, source: 'subject', keyId: r.keyId, reference: { kb: r.kb, table: r.table, tableHash: r.tableHash, recordId: r.recordId, sentAt: r.sentAt }, rejected });
  return ExitCode.ok;
}

/** The header block stored with a communication, or a clear error why there is none. */
async function headersOfCommunication(deps: Deps, idText: string): Promise<string> {
  const id = parseCommId(idText);
  const comms = new CommunicationsRepo(await deps.db(), deps.clock);
  const row = comms.require(id);
  const text = await storedHeaderText(row, comms.content(id)?.headers, await deps.messageStore());
  if (text !== undefined) return text;
  throw new UserError('E_NO_HEADERS', row.contentPurgedAt
    ? `The content of communication ${id} was purged at ${row.contentPurgedAt}${row.contentPurgeReason ? ` (${row.contentPurgeReason})` : ''}; its header block went with it.`
    : `Communication ${id} has no stored header block: it was taken before mailctl kept messages, or it is not sent yet.`, { details: { id } });
}
