import type { ParsedMessage } from './parse-message.js';

/** The most attachment types named. */
const typesNamed = 5;

/**
 * The note for a message whose note would be empty. When the message has no text at all (no
 * text/plain, HTML, TNEF or calendar body: parse-message.ts's bestText) the note says what it
 * held instead — "(no text: 2 attachments, image/png, application/pdf)", "(no text, no
 * attachments)" — so a record shows that something arrived and what. "(no text)" alone is left
 * for a message whose text was all quoted history.
 */
export function noTextNote(message: Pick<ParsedMessage, 'text' | 'attachments'>): string {
  if (message.text.trim()) return '(no text)';
  const count = message.attachments.length;
  if (count === 0) return '(no text, no attachments)';
  const types = [...new Set(message.attachments.map((a) => a.contentType.toLowerCase()))];
  const named = types.slice(0, typesNamed).join(', ') + (types.length > typesNamed ? ', …' : '');
  return `(no text: ${count} attachment${count === 1 ? '' : 's'}, ${named})`;
}
