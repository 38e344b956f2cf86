import type { Deps } from '../../deps.js';
import { approxSize } from '../../config/units.js';
import { ExitCode } from '../../errors.js';
import { CommunicationsRepo } from '../../store/communications-repo.js';
import { saveStoredContent } from '../../store/save-stored-content.js';
import { requireRawHash } from '../../store/stored-content-of.js';
import { parseCommId } from './comm-id.js';
import { storedToStdout } from './stored-to-stdout.js';

/**
 * `mailctl comms raw ID [-o FILE|-] [--force]`: the message byte for byte as it was received
 * (or sent), from the message store, its SHA-256 checked before anything is kept: a damaged
 * blob is refused (StoredContentCorrupt) and leaves no file. Without -o (or with -o -) the
 * bytes go to standard output — to a pipe or file only: raw mail on a terminal could drive it,
 * so that needs --force. -o FILE --force replaces only a regular file. A purged message says
 * when and why, exit 1.
 */
export async function runCommsRaw(deps: Deps, idText: string, options: { output?: string; force?: boolean }): Promise<number> {
  const id = parseCommId(idText);
  const row = new CommunicationsRepo(await deps.db(), deps.clock).require(id);
  const hash = requireRawHash(row);
  const store = await deps.messageStore();
  const { out } = deps;
  if (options.output !== undefined && options.output !== '-') {
    const bytes = await saveStoredContent(store, hash, options.output, { overwrite: Boolean(options.force) });
    out.success(`Wrote communication ${id} to ${options.output} (${approxSize(bytes)}, SHA-256 ${hash}).`);
    out.data({ ok: true, id, file: options.output, bytes, sha256: hash });
    return ExitCode.ok;
  }
  await storedToStdout(deps, store, hash, {
    force: Boolean(options.force), what: 'raw mail', saveCommand: `mailctl comms raw ${id} -o message-${id}.eml`,
    readSafely: `to read the headers safely use  mailctl comms show ${id} --headers`,
  });
  return ExitCode.ok;
}
