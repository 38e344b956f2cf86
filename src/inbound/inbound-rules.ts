import { boundedText } from '../mime/bounded-text.js';
import type { Contact } from '../store/contacts-repo.js';
import type { AutomaticKind } from './automatic-mail.js';
import type { InboundAccount } from './inbound-config.js';
import { noTextNote } from './no-text-note.js';
import { senderLabel, senderProblem } from './message-sender.js';
import type { ParsedMessage } from './parse-message.js';
import { withoutReplyPrefixes } from './reply-prefixes.js';
import { stripQuoted } from './strip-quoted.js';

export type Disposition =
  | 'record-updated' | 'record-created' | 'guest-record-created'
  | 'ignored' | 'rejected' | 'auto-reply' | 'bounce' | 'delay' | 'list' | 'own-copy' | 'quarantined';

export type Decision =
  | { action: 'update'; disposition: 'record-updated'; reason: string; recordId: number; author: string; note: string }
  | { action: 'create'; disposition: 'record-created' | 'guest-record-created'; reason: string; title: string; createdBy: string; note: string }
  | { action: 'none'; disposition: Disposition; reason: string; recordId?: number };

export interface RuleInput {
  account: Pick<InboundAccount, 'table' | 'allowRecordCreation' | 'unknownSender' | 'guestContact' | 'notes'>;
  message: ParsedMessage;
  automatic: AutomaticKind | null;
  /**
   * The message is one of our own automatic notices come back (its reference, in its own header
   * or Message-ID, names an automatic rule): answering it would start a loop, even when a server on
   * the way dropped its Auto-Submitted.
   */
  ownNotice?: boolean;
  /** The message is a copy of one we sent (own-copy.ts): a Bcc to ourselves, Gmail's All Mail. */
  ownCopy?: boolean;
  /** A reference that authenticated and names a record that exists. */
  reference: { recordId: number; table: string; source: string } | null;
  /** Why candidate references were refused (forged, foreign, altered). */
  refused: string[];
  /** The sender, when a contact. */
  sender: Contact | null;
  /** The account's guest contact, when its policy is "guest". */
  guest: Contact | null;
}

/** The longest record title made from a subject. */
const titleMax = 250;

/** The title of a record made from a subject: one line of reasonable length (a hostile subject can be 1 MB or carry controls). */
export function recordTitle(subject: string): string {
  const title = titleOf(subject.length > 4 * titleMax ? subject.slice(0, 4 * titleMax) : subject).replace(/[\u0000-\u001f\u007f]+/g, ' ').trim() || '(no subject)';
  return title.length > titleMax ? `${boundedText(title, titleMax - 1)}…` : boundedText(title, titleMax);
}

/** A subject without our reference tokens and the reply/forward prefixes of any client (reply-prefixes.ts), for a new record's title. */
export function titleOf(subject: string): string {
  return withoutReplyPrefixes(withoutSubjectTokens(subject)) || '(no subject)';
}

// Each `[ref:…]` token with the white space around it replaced by one space, as
// `subject.replace(/\s*\[ref:[A-Za-z0-9_\-\s]+\]\s*/g, ' ')` does — but in linear time: that
// expression retries at every character of a long run of spaces (a hostile subject of
// 1 MB of spaces took hours).
function withoutSubjectTokens(subject: string): string {
  let out = '';
  let pos = 0;
  for (const match of subject.matchAll(/\[ref:[A-Za-z0-9_\-\s]+\]/g)) {
    let start = match.index!;
    while (start > pos && /\s/.test(subject[start - 1]!)) start--;
    let end = match.index! + match[0].length;
    while (end < subject.length && /\s/.test(subject[end]!)) end++;
    out += `${subject.slice(pos, start)} `;
    pos = end;
  }
  return out + subject.slice(pos);
}

/**
 * The SPEC's four rules for one inbound message, as a pure function: a valid reference
 * updates its record (the sender's permissions are not checked); otherwise a contact may
 * create a record; otherwise the account's unknown-sender policy; automatic mail never
 * creates records.
 */
export function decide(input: RuleInput): Decision {
  const { account, message, automatic, reference, sender } = input;
  const senderAddress = message.from ?? (message.sender.invalid ? '(invalid sender)' : '(unknown sender)');
  // An invalid sender is said in every reason: the admin sees why no contact matched and no notice went.
  const refusedNote = `${input.refused.length ? ` (refused reference: ${input.refused.join('; ')})` : ''}${message.sender.invalid ? ` (${senderProblem(message.sender)})` : ''}`;
  if (input.ownCopy) {
    return { action: 'none', disposition: 'own-copy', reason: 'a copy of our own outbound message (our Message-ID and reference): nothing to do' };
  }
  if (input.ownNotice) {
    return { action: 'none', disposition: 'auto-reply', reason: `our own automatic notice came back: never creates records or triggers mail${refusedNote}` };
  }
  if (automatic) {
    const what = { bounce: 'a delivery status report (bounce)', delay: 'a delivery delay notice', 'auto-reply': 'an automatic reply', list: 'mailing-list or bulk mail' }[automatic];
    // Linked to the record it answers (a communication of it), but no note, no "updated by", no mail.
    const linked = reference ? `; linked to record ${reference.recordId}` : '';
    return { action: 'none', disposition: automatic, reason: `${what}: never creates records, adds notes or triggers mail${linked}${refusedNote}`, ...(reference ? { recordId: reference.recordId } : {}) };
  }
  const body = account.notes === 'new-text' ? stripQuoted(message.newTextFromHtml ?? message.text) : message.text.trim();
  if (reference) {
    return {
      action: 'update',
      disposition: 'record-updated',
      reason: `reference found in the ${reference.source}: reply to record ${reference.recordId}`,
      recordId: reference.recordId,
      author: senderAddress,
      note: body || noTextNote(message),
    };
  }
  if (sender && !sender.isGuest) {
    if (!account.allowRecordCreation) return { action: 'none', disposition: 'ignored', reason: `no reference, and this account does not create records${refusedNote}` };
    if (!sender.canCreateIn.includes(account.table)) return { action: 'none', disposition: 'ignored', reason: `no reference, and ${sender.email} may not create records in ${account.table}${refusedNote}` };
    return { action: 'create', disposition: 'record-created', reason: `no reference; ${sender.email} is a contact allowed to create records in ${account.table}${refusedNote}`, title: recordTitle(message.subject), createdBy: sender.email, note: body || noTextNote(message) };
  }
  switch (account.unknownSender) {
    case 'ignore':
      return { action: 'none', disposition: 'ignored', reason: `no reference and an unknown sender: the account ignores them${refusedNote}` };
    case 'reject':
      return { action: 'none', disposition: 'rejected', reason: `no reference and an unknown sender: the account rejects them${refusedNote}` };
    case 'guest':
      if (!account.allowRecordCreation) return { action: 'none', disposition: 'ignored', reason: `unknown sender; the guest policy is set but this account does not create records${refusedNote}` };
      if (!input.guest) return { action: 'none', disposition: 'ignored', reason: `unknown sender; the guest contact ${account.guestContact ?? '(none)'} does not exist${refusedNote}` };
      return { action: 'create', disposition: 'guest-record-created', reason: `no reference and an unknown sender: created under the guest contact ${input.guest.email}${refusedNote}`, title: recordTitle(message.subject), createdBy: input.guest.email, note: `From ${senderLabel(message.sender)}:\n${body || noTextNote(message)}` };
  }
}
