import { ExitCode, UserError } from '../errors.js';
import type { CommunicationRow } from './communications-repo.js';
import type { MessageStore } from './message-store.js';

/** The communication's stored content was removed by the retention purge; the row stays. */
export class ContentPurged extends UserError {
  constructor(row: Pick<CommunicationRow, 'id' | 'contentPurgedAt' | 'contentPurgeReason'>) {
    super('E_CONTENT_PURGED', `The stored content of communication ${row.id} was purged at ${row.contentPurgedAt}${row.contentPurgeReason ? ` (${row.contentPurgeReason})` : ''}: its bytes and attachments are no longer kept.`, {
      fix: 'The row, its headers as summarised and the record notes remain; the content itself can only come back from a backup of the message store.',
      exitCode: ExitCode.failure,
      details: { id: row.id, purgedAt: row.contentPurgedAt, purgeReason: row.contentPurgeReason },
    });
  }
}

/** The communication has no message in the store: taken before the store existed, quarantined before any byte arrived, or not sent yet. */
export class NoStoredMessage extends UserError {
  constructor(row: Pick<CommunicationRow, 'id' | 'direction' | 'disposition'>) {
    super('E_NO_STORED_MESSAGE', row.direction === 'outbound'
      ? `Communication ${row.id} has no stored message: it has not been sent yet, or it was sent before mailctl kept sent messages.`
      : row.disposition === 'quarantined'
        ? `Communication ${row.id} has no stored message: it was quarantined because it could not be fetched, and none of its bytes arrived (its reason says why; the message is still in its mailbox).`
        : `Communication ${row.id} has no stored message: it was taken before mailctl kept every message (schema v4).`, {
      exitCode: ExitCode.failure,
      details: { id: row.id },
    });
  }
}

/** The SHA-256 of the communication's raw message, or ContentPurged / NoStoredMessage. */
export function requireRawHash(row: CommunicationRow): string {
  if (row.contentPurgedAt) throw new ContentPurged(row);
  if (!row.rawHash) throw new NoStoredMessage(row);
  return row.rawHash;
}

/**
 * The header section (up to and including the first empty line, at most `cap` bytes) of a
 * stored blob, read from its start; the rest is not read, so it is not verified either.
 */
export async function readHeaderSection(store: MessageStore, hash: string, cap = 1024 * 1024): Promise<Buffer> {
  const stream = await store.open(hash);
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      length += chunk.length;
      const text = Buffer.concat(chunks).toString('latin1');
      const end = /\r?\n\r?\n/.exec(text);
      if (end) return Buffer.concat(chunks).subarray(0, end.index + end[0].length);
      if (length >= cap) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, cap);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The header block of a communication as received: the one kept with its parsed content, or
 * else read from the start of its stored message (an outbound message as sent). Undefined
 * when there is neither (purged, or from before the message store).
 */
export async function storedHeaderText(row: CommunicationRow, kept: string | undefined, store: MessageStore): Promise<string | undefined> {
  if (kept !== undefined) return kept;
  if (!row.rawHash || row.contentPurgedAt) return undefined;
  const bytes = await readHeaderSection(store, row.rawHash);
  try {
    return utf8.decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}
