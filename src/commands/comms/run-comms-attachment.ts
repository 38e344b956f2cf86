import { lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Deps } from '../../deps.js';
import { approxSize } from '../../config/units.js';
import { ExitCode, UsageError, UserError } from '../../errors.js';
import { CommunicationsRepo, type CommunicationAttachment } from '../../store/communications-repo.js';
import { saveStoredContent } from '../../store/save-stored-content.js';
import { ContentPurged } from '../../store/stored-content-of.js';
import { mailLine } from '../../ui/output.js';
import { parseCommId } from './comm-id.js';
import { attachmentLabel, saveNames, shellWord } from './save-names.js';
import { storedToStdout } from './stored-to-stdout.js';

/** --all failed after saving some: the error says what is already there, not "nothing was written". */
class PartlySaved extends UserError {
  constructor(dir: string, saved: Array<{ position: number; file: string }>, total: number, failed: { position: number; file: string }, cause: UserError) {
    const list = saved.map((s) => `  ${s.position}  ${mailLine(s.file)}`).join('\n');
    const why = cause.message.replace(/;? ?nothing was written\.?$/, '.');
    super(cause.code, `Saved ${saved.length} of ${total} attachments in ${dir}, then attachment ${failed.position} (${mailLine(failed.file)}) failed: ${why}\nAlready saved (kept):\n${list}`, {
      ...(cause.fix ? { fix: cause.fix } : {}),
      ...(cause.command ? { command: cause.command } : {}),
      exitCode: cause.exitCode,
      cause,
      details: { ...cause.details, saved, failed },
    });
  }
}

/**
 * `mailctl comms attachment ID N|NAME -o FILE` and `--all DIR`: attachments byte for byte
 * from the message store (verified). N is the number `comms show` gives; NAME matches the
 * file name (exactly, else ignoring case). With --all, each file is named from its mail
 * name made safe (no folders, no control characters, no leading dots; attachment-N with its
 * type's extension when nothing is left), so a hostile name never writes outside DIR. An
 * existing file is never replaced without --force, and what is not a regular file never;
 * --all checks every name before writing any, and when it fails part-way says what it saved.
 * -o - writes the attachment to standard output (a pipe or a file; a terminal needs --force).
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
    const names = saveNames(attachments);
    const plan = attachments.map((a, i) => ({ attachment: a, path: join(dir, names[i]!) }));
    const existing: string[] = [];
    const notRegular: string[] = [];
    for (const p of plan) {
      const info = await lstat(p.path).catch(() => undefined);
      if (info) (info.isFile() ? existing : notRegular).push(p.path);
    }
    if (notRegular.length) {
      throw new UserError('E_FILE_NOT_REGULAR', `${notRegular.length === 1 ? 'This name is' : 'These names are'} taken by something that is not a regular file (a link, a folder, a device); nothing was written:\n${notRegular.map((p) => `  ${mailLine(p)}`).join('\n')}`, {
        fix: 'Choose another folder: mailctl never follows nor replaces links, folders or devices, not even with --force.', details: { notRegular },
      });
    }
    if (!overwrite && existing.length) {
      throw new UserError('E_FILE_EXISTS', `${existing.length === 1 ? 'This file exists' : 'These files exist'} already; nothing was written:\n${existing.map((p) => `  ${mailLine(p)}`).join('\n')}`, {
        fix: 'Choose another folder, or pass --force to replace them.', details: { existing },
      });
    }
    const saved: Array<{ position: number; filename: string | null; file: string; bytes: number; sha256: string }> = [];
    for (const p of plan) {
      let bytes: number;
      try {
        bytes = await saveStoredContent(store, p.attachment.sha256, p.path, { overwrite });
      } catch (error) {
        if (saved.length === 0 || !(error instanceof UserError)) throw error;
        throw new PartlySaved(dir, saved.map((s) => ({ position: s.position, file: s.file })), plan.length, { position: p.attachment.position, file: p.path }, error);
      }
      saved.push({ position: p.attachment.position, filename: p.attachment.filename, file: p.path, bytes, sha256: p.attachment.sha256 });
    }
    out.success(`Saved ${saved.length} attachment${saved.length === 1 ? '' : 's'} of communication ${id} in ${dir}:`);
    for (const s of saved) out.line(`  ${s.position}  ${mailLine(s.file)}  (${approxSize(s.bytes)})`);
    out.data({ ok: true, id, dir, saved });
    return ExitCode.ok;
  }

  const attachment = pick(id, attachments, which!);
  const file = options.output!;
  if (file === '-') {
    await storedToStdout(deps, store, attachment.sha256, {
      force: overwrite, what: 'an attachment', saveCommand: `mailctl comms attachment ${id} ${attachment.position} -o ${shellWord(saveNames(attachments)[attachments.indexOf(attachment)]!)}`,
    });
    return ExitCode.ok;
  }
  const bytes = await saveStoredContent(store, attachment.sha256, file, { overwrite });
  out.success(`Saved attachment ${attachment.position} (${attachmentLabel(attachment)}, ${approxSize(bytes)}) of communication ${id} to ${file}.`);
  out.data({ ok: true, id, position: attachment.position, filename: attachment.filename, file, bytes, sha256: attachment.sha256 });
  return ExitCode.ok;
}

/** The attachment by number, else by file name (exact, then ignoring case); else an error listing them. */
function pick(id: number, attachments: CommunicationAttachment[], which: string): CommunicationAttachment {
  const listing = () => attachments.map((a) => `  ${a.position}  ${a.filename ? mailLine(a.filename) : '(no name)'}  ${mailLine(a.contentType)}  ${approxSize(a.size)}${a.inline ? '  inline' : ''}`).join('\n');
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
    throw new UsageError('E_ATTACHMENT_AMBIGUOUS', `Communication ${id} has ${matches.length} attachments named "${mailLine(which)}" (${matches.map((a) => a.position).join(', ')}); name one by its number:\n${listing()}`, { details });
  }
  throw new UsageError('E_ATTACHMENT_UNKNOWN', `Communication ${id} has no attachment named "${mailLine(which)}"; it has:\n${listing()}`, { details });
}
