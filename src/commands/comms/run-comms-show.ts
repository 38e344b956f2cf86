import type { Deps } from '../../deps.js';
import { approxSize } from '../../config/units.js';
import { ExitCode, isUserError } from '../../errors.js';
import { loadKbKeys } from '../../kb/load-kb.js';
import { parseHeaderBlock } from '../../mime/header-block.js';
import { describeReference, type ReferenceView } from '../../refs/describe-reference.js';
import { CommunicationsRepo } from '../../store/communications-repo.js';
import { RecordsRepo } from '../../store/records-repo.js';
import { storedHeaderText } from '../../store/stored-content-of.js';
import { TablesRepo } from '../../store/tables-repo.js';
import { mailLine, mailText } from '../../ui/output.js';
import { parseCommId } from './comm-id.js';
import { saveNames, shellWord } from './save-names.js';

type ReferenceOutcome =
  | { found: true; reference: ReferenceView; rejected: Array<{ source: string; reason: string }> }
  | { found: false; rejected: Array<{ source: string; reason: string }> }
  | { found: null; error: string };

/**
 * `mailctl comms show ID [--headers]`: one communication as the admin needs it — who, when,
 * what was done and why, the decoded reference, the record, the text and the attachments;
 * with --headers, the header block as received (the guide's "view the header in the
 * communication record"). Everything that came with the mail is shown through mailLine (one-line
 * fields: a line break shows as ␤, so a subject cannot forge a line) or mailText (the text and
 * headers, line by line), so a message cannot drive the terminal; --json gives it all exactly.
 */
export async function runCommsShow(deps: Deps, idText: string, options: { headers?: boolean }): Promise<number> {
  const id = parseCommId(idText);
  const db = await deps.db();
  const comms = new CommunicationsRepo(db, deps.clock);
  const row = comms.require(id);
  const content = comms.content(id);
  const { out } = deps;
  let headerText: string | undefined;
  let headerError: string | undefined;
  try {
    headerText = await storedHeaderText(row, content?.headers, await deps.messageStore());
  } catch (error) {
    if (!isUserError(error)) throw error;
    headerError = error.message;
  }

  if (options.headers) {
    if (headerText === undefined) {
      out.error(headerError ?? (row.contentPurgedAt
        ? `The content of communication ${id} was purged at ${row.contentPurgedAt}${row.contentPurgeReason ? ` (${row.contentPurgeReason})` : ''}; its header block went with it.`
        : `Communication ${id} has no stored header block (taken before mailctl kept messages, or not sent yet).`));
      out.data({ ok: false, id, headers: null, error: headerError ?? 'no stored header block' });
      return ExitCode.failure;
    }
    for (const line of headerText.replace(/\r\n/g, '\n').replace(/\n+$/, '').split('\n')) out.line(mailText(line));
    out.data({ ok: true, id, headers: headerText });
    return ExitCode.ok;
  }

  const attachments = comms.attachments(id);
  const record = row.recordId !== null ? new RecordsRepo(db, deps.clock).get(row.recordId) ?? null : null;
  const replayedBy = comms.replayOf(id) ?? null;
  const replayOf = row.replayOf !== null ? comms.get(row.replayOf) ?? null : null;
  const duplicateOf = row.duplicateOf !== null ? comms.get(row.duplicateOf) ?? null : null;
  const duplicates = comms.duplicatesOf(id);
  const reference = headerText === undefined ? null : await decodeReference(deps, headerText);

  const label = (name: string, value: string) => out.line(`  ${out.color.dim(name.padEnd(12))} ${value}`);
  const m = (text: string | null) => mailLine(text ?? '');
  out.line(out.color.bold(`Communication ${row.id}`) + ` · ${row.direction} · ${out.color.bold(row.disposition)}`);
  label('account', m(row.account ?? (row.table ? `(table ${row.table})` : '—')));
  label('date', `${row.sentAt ? m(row.sentAt) : '(no Date header)'}; ${row.direction === 'inbound' ? 'taken' : 'queued'} ${row.createdAt}`);
  label('from', `${m(row.from) || '—'}${row.senderHeader && row.direction === 'inbound' ? ` (from the ${row.senderHeader} header${row.from ? '' : ', invalid: see the disposition'})` : ''}`);
  label('to', m(row.to) || '—');
  if (row.cc) label('cc', m(row.cc));
  label('subject', m(row.subject) || '(no subject)');
  if (row.messageId) label('message-id', `<${m(row.messageId)}>`);
  label('disposition', `${row.disposition}${row.reason ? `: ${m(row.reason)}` : ''}`);
  if (duplicateOf) label('duplicate of', `communication ${duplicateOf.id} (${duplicateOf.disposition})`);
  if (duplicates.length) label('duplicates', `communication${duplicates.length > 1 ? 's' : ''} ${duplicates.join(', ')}`);
  if (replayOf) label('replay of', `communication ${replayOf.id}, which was ${replayOf.disposition}${replayOf.reason ? `: ${m(replayOf.reason)}` : ''}`);
  if (replayedBy) label('replayed as', `communication ${replayedBy.id}: ${replayedBy.disposition}${replayedBy.reason ? `: ${m(replayedBy.reason)}` : ''}`);
  label('reference', referenceLine(reference));
  label('record', record ? `#${record.id} ${m(record.title)} (${record.table})` : row.recordId !== null ? `#${row.recordId} (no longer exists)` : '—');
  label('size', row.size !== null ? `${approxSize(row.size)}${row.rawHash ? `, stored as ${row.rawHash.slice(0, 16)}…` : ''}` : '—');
  if (row.contentPurgedAt) label('purged', `${row.contentPurgedAt}${row.contentPurgeReason ? ` (${m(row.contentPurgeReason)})` : ''}: the stored message and attachments are gone`);

  out.line();
  if (content?.text !== undefined && content?.text !== null) {
    out.line(out.color.dim('── text ──'));
    for (const line of content.text.replace(/\r\n/g, '\n').replace(/\n+$/, '').split('\n')) out.line(mailText(line));
    out.line(out.color.dim(content.truncated
      ? `── cut at max_body_size: the whole message is in  mailctl comms raw ${id} ──`
      : '── end of text ──'));
  } else if (row.contentPurgedAt) {
    out.line(`(the text was purged at ${row.contentPurgedAt}${row.contentPurgeReason ? ` (${m(row.contentPurgeReason)})` : ''})`);
  } else if (content && !row.rawHash) {
    out.line('(no text: none of the message\'s bytes arrived; it is still in its mailbox)');
  } else if (content) {
    out.line('(no text: the message could not be parsed or fetched whole; its bytes are kept —  mailctl comms raw ' + id + ')');
  } else {
    out.line('(no text kept for this communication)');
  }

  if (attachments.length) {
    out.line();
    out.line(`Attachments (${attachments.length}):`);
    out.table(attachments, [
      { header: '  #', value: (a) => `  ${a.position}` },
      { header: 'NAME', value: (a) => (a.filename ? mailLine(a.filename) : '(no name)') },
      { header: 'TYPE', value: (a) => mailLine(a.contentType) },
      { header: 'SIZE', value: (a) => approxSize(a.size) },
      { header: 'INLINE', value: (a) => (a.inline ? 'inline' : '') },
    ]);
    if (!row.contentPurgedAt) {
      // The example names the file as --all would save it: attachment-1.eml for a forwarded message without a name.
      const names = saveNames(attachments);
      out.line(`Save one:  mailctl comms attachment ${id} ${attachments[0]!.position} -o ${shellWord(names[0]!)}   (or all of them: --all DIR)`);
      const unnamed = attachments.flatMap((a, i) => (a.filename ? [] : [`${a.position} as ${names[i]}`]));
      if (unnamed.length) out.line(`Without a name in the mail, --all saves ${unnamed.join(', ')}.`);
    }
  }
  if (row.direction === 'inbound' && row.disposition === 'quarantined' && !replayedBy && row.rawHash && !row.contentPurgedAt) {
    out.line(`Run it through the rules again:  mailctl comms replay ${id}`);
  }

  out.data({
    ok: true,
    communication: row,
    record,
    reference,
    duplicateOf: duplicateOf ? { id: duplicateOf.id, disposition: duplicateOf.disposition } : null,
    duplicates,
    replayOf: replayOf ? { id: replayOf.id, disposition: replayOf.disposition, reason: replayOf.reason } : null,
    replayedBy: replayedBy ? { id: replayedBy.id, disposition: replayedBy.disposition, reason: replayedBy.reason, recordId: replayedBy.recordId } : null,
    content: content ? { headers: content.headers, text: content.text, html: content.html, truncated: content.truncated } : headerText !== undefined ? { headers: headerText, text: null, html: null, truncated: false } : null,
    attachments,
  });
  return ExitCode.ok;
}

/** The reference in the header block, decoded with this KB's keys; a KB or key problem is said, not thrown. */
async function decodeReference(deps: Deps, headerText: string): Promise<ReferenceOutcome> {
  try {
    const config = (await deps.config()).read();
    const keys = await loadKbKeys(config, (await deps.secrets()).store);
    const tables = new TablesRepo(await deps.db(), deps.clock);
    const { view, rejected } = describeReference(parseHeaderBlock(headerText), keys.all, keys.kb.name, () => tables.list().map((t) => t.name));
    return view ? { found: true, reference: view, rejected } : { found: false, rejected };
  } catch (error) {
    if (!isUserError(error)) throw error;
    return { found: null, error: error.message };
  }
}

function referenceLine(reference: ReferenceOutcome | null): string {
  if (reference === null) return '—';
  if (reference.found === null) return `(not decoded: ${reference.error})`;
  if (!reference.found) {
    return reference.rejected.length
      ? `none that authenticates (${reference.rejected.map((r) => `${r.source}: ${mailLine(r.reason)}`).join('; ')})`
      : 'none (not a reply to mail from this KB)';
  }
  const r = reference.reference;
  const where = `${r.table ?? (r.tableHash ? `table hash ${r.tableHash}` : 'no table')}${r.recordId !== null ? ` record ${r.recordId}` : ''}`;
  return `KB ${mailLine(r.kb)}, ${mailLine(where)}${r.origin ? `, ${mailLine(r.origin)}` : ''}, sent ${r.sentAt} (${r.subjectOnly ? 'subject token only' : `in the ${r.source}`}, key ${r.keyId})`;
}
