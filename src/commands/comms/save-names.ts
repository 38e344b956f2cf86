import { fallbackFilename, safeFilename, uniqueFilename } from '../../mime/safe-filename.js';
import type { CommunicationAttachment } from '../../store/communications-repo.js';
import { mailLine } from '../../ui/output.js';

/**
 * The file name each attachment gets with `comms attachment --all` (and that comms show
 * suggests): its mail name made safe, else attachment-N with its type's extension
 * (attachment-1.eml for a forwarded message); numbered where two share a name.
 */
export function saveNames(attachments: readonly CommunicationAttachment[]): string[] {
  const taken = new Set<string>();
  return attachments.map((a) => uniqueFilename(safeFilename(a.filename, fallbackFilename(a.position, a.contentType)), a.position, taken));
}

/** One attachment for people: its name from the mail (one line, safe), or "(no name)", and its type. */
export function attachmentLabel(a: CommunicationAttachment): string {
  return `${a.filename ? mailLine(a.filename) : '(no name)'}, ${mailLine(a.contentType)}`;
}

/** A word to paste into a shell: as it is when it is plain, else in single quotes. */
export function shellWord(word: string): string {
  return /^[\w.@%+=:,/-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
