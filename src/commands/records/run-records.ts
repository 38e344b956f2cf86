import type { Deps } from '../../deps.js';
import { UsageError } from '../../errors.js';
import { approxSize } from '../../config/units.js';
import { CommunicationsRepo } from '../../store/communications-repo.js';
import { AuditRepo } from '../../store/audit-repo.js';
import { RecordsRepo } from '../../store/records-repo.js';
import { TablesRepo } from '../../store/tables-repo.js';
import { cut, mailLine, mailText } from '../../ui/output.js';

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
    // Titles come from subjects, authors from senders: mail, one line each.
    { header: 'UPDATED BY', value: (r) => mailLine(r.updatedBy) },
    { header: 'TITLE', value: (r) => mailLine(r.title) },
  ]);
  deps.out.data({ ok: true, records });
  return 0;
}

/**
 * `mailctl records show ID`: the record, its additional notes, its communications and their
 * attachments. Titles, authors and notes come from mail: one-line fields through mailLine, the
 * notes' text line by line through mailText.
 */
export async function runRecordsShow(deps: Deps, id: string): Promise<number> {
  const db = await deps.db();
  const repo = new RecordsRepo(db, deps.clock);
  const record = repo.require(parseId(id, 'The record id'));
  const notes = repo.notes(record.id);
  const comms = new CommunicationsRepo(db, deps.clock);
  const communications = comms.forRecord(record.id);
  const attachments = comms.attachmentsForRecord(record.id);
  const { out } = deps;
  out.line(`${out.color.bold(`#${record.id}`)} ${mailLine(record.title)}`);
  out.line(`  table: ${mailLine(record.table)}   status: ${mailLine(record.status)}`);
  out.line(`  created by ${mailLine(record.createdBy)} at ${record.createdAt}; updated by ${mailLine(record.updatedBy)} at ${record.updatedAt}`);
  if (record.refsRevokedBefore) out.line(`  references sent before ${record.refsRevokedBefore} are revoked (mailctl records revoke-references)`);
  out.line(notes.length ? '  additional notes:' : '  additional notes: (none)');
  for (const note of notes) {
    out.line(`  --- ${note.addedAt} ${mailLine(note.author)}${note.communicationId ? ` (communication ${note.communicationId})` : ''}`);
    for (const line of note.body.replace(/\r\n/g, '\n').split('\n')) out.line(`    ${mailText(line)}`);
  }
  out.line();
  if (communications.length === 0) out.line('  communications: (none)');
  else {
    out.line(`  communications (${communications.length}):`);
    out.table(communications, [
      { header: '  ID', value: (c) => `  ${c.id}` },
      { header: 'DIR', value: (c) => (c.direction === 'inbound' ? 'in' : 'out') },
      { header: 'DATE', value: (c) => c.createdAt.slice(0, 16).replace('T', ' ') },
      { header: 'FROM', value: (c) => cut(mailLine(c.from ?? ''), 40) },
      { header: 'DISPOSITION', value: (c) => c.disposition },
    ]);
  }
  if (attachments.length) {
    out.line();
    out.line(`  attachments (${attachments.length}):`);
    out.table(attachments, [
      { header: '  COMM', value: (a) => `  ${a.communicationId}` },
      { header: '#', value: (a) => String(a.position) },
      { header: 'NAME', value: (a) => (a.filename ? mailLine(a.filename) : '(no name)') },
      { header: 'TYPE', value: (a) => mailLine(a.contentType) },
      { header: 'SIZE', value: (a) => approxSize(a.size) },
      { header: '', value: (a) => [a.inline ? 'inline' : '', a.purged ? 'purged' : ''].filter(Boolean).join(', ') },
    ]);
    out.line('  save one:  mailctl comms attachment COMM # -o FILE');
  }
  out.data({ ok: true, record, notes, communications, attachments });
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

/**
 * `mailctl records revoke-references ID`: every reference sent for the record until now stops
 * updating it (a leaked or forwarded message can no longer append to it); mail sent afterwards
 * carries references that work. Recorded in the audit log.
 */
export async function runRecordsRevokeReferences(deps: Deps, id: string): Promise<number> {
  const db = await deps.db();
  const repo = new RecordsRepo(db, deps.clock);
  const record = repo.revokeReferences(repo.require(parseId(id, 'The record id')).id);
  new AuditRepo(db, deps.clock).record({ actor: 'admin', action: 'records.revoke-references', target: String(record.id), details: { before: record.refsRevokedBefore } });
  deps.out.success(`References sent for record #${record.id} before ${record.refsRevokedBefore} no longer update it; mail sent from now on carries new ones.`);
  deps.out.data({ ok: true, record: record.id, refsRevokedBefore: record.refsRevokedBefore });
  return 0;
}
