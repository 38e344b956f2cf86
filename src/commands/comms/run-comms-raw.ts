import type { Readable } from 'node:stream';
import type { Deps } from '../../deps.js';
import { approxSize } from '../../config/units.js';
import { ExitCode, UsageError } from '../../errors.js';
import { CommunicationsRepo } from '../../store/communications-repo.js';
import { saveStoredContent, verifyStoredContent } from '../../store/save-stored-content.js';
import { requireRawHash } from '../../store/stored-content-of.js';
import { parseCommId } from './comm-id.js';

/**
 * `mailctl comms raw ID [-o FILE] [--force]`: the message byte for byte as it was received
 * (or sent), from the message store, its SHA-256 checked before anything is kept: a damaged
 * blob is refused (StoredContentCorrupt) and leaves no file. Without -o the bytes go to
 * standard output — to a pipe or file only: raw mail on a terminal could drive it, so that
 * needs --force. A purged message says when and why, exit 1.
 */
export async function runCommsRaw(deps: Deps, idText: string, options: { output?: string; force?: boolean }): Promise<number> {
  const id = parseCommId(idText);
  const row = new CommunicationsRepo(await deps.db(), deps.clock).require(id);
  const hash = requireRawHash(row);
  const store = await deps.messageStore();
  const { out } = deps;
  if (options.output !== undefined) {
    const bytes = await saveStoredContent(store, hash, options.output, { overwrite: Boolean(options.force) });
    out.success(`Wrote communication ${id} to ${options.output} (${approxSize(bytes)}, SHA-256 ${hash}).`);
    out.data({ ok: true, id, file: options.output, bytes, sha256: hash });
    return ExitCode.ok;
  }
  if (out.json) throw new UsageError('E_RAW_JSON', '--json needs -o FILE: the raw message and the JSON document cannot share standard output.', { command: `mailctl comms raw ${id} -o message.eml --json` });
  if (out.isTTY && !options.force) {
    throw new UsageError('E_RAW_TERMINAL', `Not writing raw mail to the terminal: a message can carry control sequences that act on it.`, {
      fix: `Save it with -o FILE, or pipe it (| less); to read the headers safely use  mailctl comms show ${id} --headers . --force writes it here anyway.`,
      command: `mailctl comms raw ${id} -o message-${id}.eml`,
    });
  }
  // A pipe cannot take bytes back: check the whole blob first, then send it.
  await verifyStoredContent(store, hash);
  await out.bytes((await store.open(hash)) as Readable & AsyncIterable<Buffer>);
  return ExitCode.ok;
}
