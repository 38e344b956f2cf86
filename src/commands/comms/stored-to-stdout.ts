import type { Readable } from 'node:stream';
import type { Deps } from '../../deps.js';
import { UsageError } from '../../errors.js';
import type { MessageStore } from '../../store/message-store.js';
import { verifyStoredContent } from '../../store/save-stored-content.js';

/**
 * Writes a stored blob to standard output (comms raw without -o, or with -o -; comms attachment
 * -o -): to a pipe or a file only — bytes from mail on a terminal could drive it, so a terminal
 * needs `force` (else E_RAW_TERMINAL, exit 2) — and never beside --json (E_RAW_JSON). The whole
 * blob is verified first (StoredContentCorrupt / StoredContentMissing), since a pipe cannot
 * take bytes back. `what` names it for people ("raw mail", "an attachment"); `saveCommand` is
 * the command that saves it to a file instead.
 */
export async function storedToStdout(deps: Deps, store: MessageStore, hash: string, options: { force: boolean; what: string; saveCommand: string; readSafely?: string }): Promise<void> {
  const { out } = deps;
  if (out.json) {
    throw new UsageError('E_RAW_JSON', `--json needs -o FILE: ${options.what} and the JSON document cannot share standard output.`, { command: `${options.saveCommand} --json` });
  }
  if (out.isTTY && !options.force) {
    throw new UsageError('E_RAW_TERMINAL', `Not writing ${options.what} to the terminal: bytes from a message can carry control sequences that act on it.`, {
      fix: `Save it with -o FILE, or pipe it (| less)${options.readSafely ? `; ${options.readSafely}` : ''}. --force writes it here anyway.`,
      command: options.saveCommand,
    });
  }
  // A pipe cannot take bytes back: check the whole blob first, then send it.
  await verifyStoredContent(store, hash);
  await out.bytes((await store.open(hash)) as Readable & AsyncIterable<Buffer>);
}
