import type { Deps } from '../../deps.js';
import { UsageError } from '../../errors.js';
import { RecordsRepo } from '../../store/records-repo.js';
import { TablesRepo } from '../../store/tables-repo.js';

function parseId(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError('E_ID', `${what} must be a whole number, not "${text}".`);
  return Number(text);
}

/** `mailctl records list` */
export async function runRecordsList(deps: Deps, options: { table?: string; limit: string }): Promise<number> {
  const db = await deps.db();
  if (options.table) new TablesRepo(db, deps.clock).require(options.table);
  const records = new RecordsRepo(db, deps.clock).list({ table: options.table, limit: parseId(options.limit, '--limit') });
  if (records.length === 0) deps.out.line('No records.');
  else deps.out.table(records, [
    { header: 'ID', value: (r) => String(r.id) },
    { header: 'TABLE', value: (r) => r.table },
    { header: 'STATUS', value: (r) => r.status },
    { header: 'UPDATED BY', value: (r) => r.updatedBy },
    { header: 'TITLE', value: (r) => r.title },
  ]);
  deps.out.data({ ok: true, records });
  return 0;
}

/** `mailctl records show ID` */
export async function runRecordsShow(deps: Deps, id: string): Promise<number> {
  const repo = new RecordsRepo(await deps.db(), deps.clock);
  const record = repo.require(parseId(id, 'The record id'));
  const notes = repo.notes(record.id);
  const { out } = deps;
  out.line(`${out.color.bold(`#${record.id}`)} ${record.title}`);
  out.line(`  table: ${record.table}   status: ${record.status}`);
  out.line(`  created by ${record.createdBy} at ${record.createdAt}; updated by ${record.updatedBy} at ${record.updatedAt}`);
  out.line(notes.length ? '  additional notes:' : '  additional notes: (none)');
  for (const note of notes) {
    out.line(`  --- ${note.addedAt} ${note.author}${note.communicationId ? ` (communication ${note.communicationId})` : ''}`);
    for (const line of note.body.split('\n')) out.line(`    ${line}`);
  }
  out.data({ ok: true, record, notes });
  return 0;
}

/** `mailctl records add --table T --title S` */
export async function runRecordsAdd(deps: Deps, options: { table: string; title: string; createdBy: string }): Promise<number> {
  const db = await deps.db();
  new TablesRepo(db, deps.clock).require(options.table);
  const record = new RecordsRepo(db, deps.clock).create({ table: options.table, title: options.title, createdBy: options.createdBy });
  deps.out.success(`Created record #${record.id} in ${record.table}.`);
  deps.out.data({ ok: true, record });
  return 0;
}
