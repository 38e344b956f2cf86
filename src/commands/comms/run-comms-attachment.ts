import { lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Deps } from '../../deps.js';
import { approxSize } from '../../config/units.js';
import { ExitCode, UsageError, UserError } from '../../errors.js';
import { safeFilename, uniqueFilename } from '../../mime/safe-filename.js';
import { CommunicationsRepo, type CommunicationAttachment } from '../../store/communications-repo.js';
import { saveStoredContent } from '../../store/save-stored-content.js';
import { ContentPurged } from '../../store/stored-content-of.js';
import { mailText } from '../../ui/output.js';
import { parseCommId } from './comm-id.js';

/**
 * `mailctl comms attachment ID N|NAME -o FILE` and `--all DIR`: attachments byte for byte
 * from the message store (verified). N is the number `comms show` gives; NAME matches the
 * file name (exactly, else ignoring case). With --all, each file is named from its mail
 * name made safe (no folders, no control characters, no leading dots; attachment-N when
 * nothing is left), so a hostile name never writes outside DIR. An existing file is never
 * replaced without --force; --all checks every name before writing any.
 */
export async function runCommsAttachment(deps: Deps, idText: string, which: string | undefined, options: { output?: string; all?: string; force?: boolean }): Promise<number> {
  const id = parseCommId(idText);
  const comms = new CommunicationsRepo(await deps.db(), deps.clock);
  const row = comms.require(id);
  if (options.all !== undefined && (which !== undefined || options.output !== undefined)) {
    throw new UsageError('E_USAGE', '--all DIR saves every attachment: give it without N|NAME and -o.', { command: `mailctl comms attachment ${id} --all DIR` });
  }
  if (options.all === undefined && (which === undefined || options.output === undefined)) {
    throw new UsageError('E_USAGE', 'Say which attachment and where: N|NAME -o FILE, or --all DIR.', { command: `mailctl comms attachment ${id} 1 -o FILE` });
  }
  const attachments = comms.attachments(id);
  if (attachments.length === 0) throw new UserError('E_NO_ATTACHMENTS', `Communication ${id} has no attachments.`, { command: `mailctl comms show ${id}` });
  if (row.contentPurgedAt) throw new ContentPurged(row);
  const store = await deps.messageStore();
  const overwrite = Boolean(options.force);
  const { out } = deps;

  if (options.all !== undefined) {
    const dir = options.all;
    await mkdir(dir, { recursive: true, mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      throw new UsageError('E_FILE', `Cannot use the folder ${dir}: ${error.code === 'EEXIST' || error.code === 'ENOTDIR' ? 'it is not a folder' : error.message}.`);
    });
    const taken = new Set<string>();
    const plan = attachments.map((a) => ({ attachment: a, path: join(dir, uniqueFilename(safeFilename(a.filename, `attachment-${a.position}`), a.position, taken)) }));
    if (!overwrite) {
      const existing: string[] = [];
      for (const p of plan) if (await lstat(p.path).then(() => true, () => false)) existing.push(p.path);
      if (existing.length) {
        throw new UserError('E_FILE_EXISTS', `${existing.length === 1 ? 'This file exists' : 'These files exist'} already; nothing was written:\n${existing.map((p) => `  ${mailText(p)}`).join('\n')}`, {
          fix: 'Choose another folder, or pass --force to replace them.', details: { existing },
        });
      }
    }
    const saved: Array<{ position: number; filename: string | null; file: string; bytes: number; sha256: string }> = [];
    for (const p of plan) {
      const bytes = await saveStoredContent(store, p.attachment.sha256, p.path, { overwrite });
      saved.push({ position: p.attachment.position, filename: p.attachment.filename, file: p.path, bytes, sha256: p.attachment.sha256 });
    }
    out.success(`Saved ${saved.length} attachment${saved.length === 1 ? '' : 's'} of communication ${id} in ${dir}:`);
    for (const s of saved) out.line(`  ${s.position}  ${mailText(s.file)}  (${approxSize(s.bytes)})`);
    out.data({ ok: true, id, dir, saved });
    return ExitCode.ok;
  }

  const attachment = pick(id, attachments, which!);
  const file = options.output!;
  const bytes = await saveStoredContent(store, attachment.sha256, file, { overwrite });
  out.success(`Saved attachment ${attachment.position} (${mailText(attachment.filename ?? 'no name')}, ${approxSize(bytes)}) of communication ${id} to ${file}.`);
  out.data({ ok: true, id, position: attachment.position, filename: attachment.filename, file, bytes, sha256: attachment.sha256 });
  return ExitCode.ok;
}

/** The attachment by number, else by file name (exact, then ignoring case); else an error listing them. */
function pick(id: number, attachments: CommunicationAttachment[], which: string): CommunicationAttachment {
  const listing = () => attachments.map((a) => `  ${a.position}  ${mailText(a.filename ?? '(no name)')}  ${mailText(a.contentType)}  ${approxSize(a.size)}${a.inline ? '  inline' : ''}`).join('\n');
  const details = { attachments: attachments.map((a) => ({ position: a.position, filename: a.filename, contentType: a.contentType, size: a.size })) };
  if (/^\d+$/.test(which)) {
    const found = attachments.find((a) => a.position === Number(which));
    if (found) return found;
    throw new UsageError('E_ATTACHMENT_UNKNOWN', `Communication ${id} has no attachment ${which}; it has:\n${listing()}`, { details });
  }
  let matches = attachments.filter((a) => a.filename === which);
  if (matches.length === 0) matches = attachments.filter((a) => a.filename !== null && a.filename.toLowerCase() === which.toLowerCase());
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw new UsageError('E_ATTACHMENT_AMBIGUOUS', `Communication ${id} has ${matches.length} attachments named "${mailText(which)}" (${matches.map((a) => a.position).join(', ')}); name one by its number:\n${listing()}`, { details });
  }
  throw new UsageError('E_ATTACHMENT_UNKNOWN', `Communication ${id} has no attachment named "${mailText(which)}"; it has:\n${listing()}`, { details });
}
