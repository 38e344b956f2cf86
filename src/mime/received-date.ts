import { parseHeaderBlock } from './header-block.js';

/**
 * When the message reached its mailbox's server, as the newest (topmost) Received header says:
 * the date after its last ";" (RFC 5322 §3.6.7). Null when there is none or it is not a date.
 */
export function receivedDate(headerBlock: string): Date | null {
  if (!headerBlock) return null;
  const received = parseHeaderBlock(headerBlock).get('received');
  const semicolon = received?.lastIndexOf(';') ?? -1;
  if (received === undefined || semicolon < 0) return null;
  // Date.parse reads RFC 5322 dates; a trailing comment ("(UTC)") is dropped first to be sure.
  const time = Date.parse(received.slice(semicolon + 1).replace(/\([^()]*\)\s*$/, '').trim());
  return Number.isNaN(time) ? null : new Date(time);
}
