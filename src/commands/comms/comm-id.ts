import { UsageError } from '../../errors.js';

/** A communication id from the command line, or a usage error. */
export function parseCommId(text: string): number {
  if (!/^\d{1,15}$/.test(text)) throw new UsageError('E_ID', `The communication id must be a whole number, not "${text.slice(0, 40)}".`, { command: 'mailctl comms list' });
  return Number(text);
}
