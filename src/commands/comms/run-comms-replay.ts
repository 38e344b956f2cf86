import type { Readable } from 'node:stream';
import type { Deps } from '../../deps.js';
import { resolveGlobals } from '../../config/globals.js';
import { ExitCode, UserError } from '../../errors.js';
import { commitMessage, type IngestContext } from '../../inbound/ingest-message.js';
import { ownAddresses } from '../../inbound/reject-notice.js';
import { takeMessage } from '../../inbound/parse-message.js';
import { loadKbKeys } from '../../kb/load-kb.js';
import { CommunicationsRepo, type CommunicationRow } from '../../store/communications-repo.js';
import { commitReserved } from '../../store/store-reservations.js';
import { requireRawHash } from '../../store/stored-content-of.js';
import { mayChangeOnReplay } from '../../store/dispositions.js';
import { mailLine } from '../../ui/output.js';
import { parseCommId } from './comm-id.js';

/**
 * The message was replayed before: a message is replayed at most once. `last` is the end of
 * its replay chain; when that did not take effect (quarantined, ignored, rejected again),
 * replaying it is what works next, and the message says so.
 */
class AlreadyReplayed extends UserError {
  constructor(id: number, replay: CommunicationRow, last: CommunicationRow) {
    const chain = last.id === replay.id ? '' : `; that replay was itself replayed, last as communication ${last.id} (${last.disposition})`;
    const again = mayChangeOnReplay(last.disposition);
    super('E_ALREADY_REPLAYED', `Communication ${id} was already replayed, as communication ${replay.id} (${replay.disposition})${chain}; a message is replayed only once.`, {
      ...(again
        ? { fix: `Communication ${last.id} did not take effect (${last.disposition}${last.reason ? `: ${mailLine(last.reason)}` : ''}): once the cause is fixed, replay that one.`, command: `mailctl comms replay ${last.id}` }
        : { fix: `Its outcome (${last.disposition}) is what the rules decide for it; see it with comms show.`, command: `mailctl comms show ${last.id}` }),
      details: { id, replayedAs: replay.id, disposition: replay.disposition, last: { id: last.id, disposition: last.disposition } },
    });
  }
}

/**
 * `mailctl comms replay ID`: runs a stored inbound message through the rules again — after a
 * fix, an upgrade, a contact added — exactly once. The raw bytes come from the message store
 * (verified), are taken again as if new (content deduplicates in the store) and committed as
 * a new communication with replay_of = ID, beside the old one, which is not changed. The
 * account's rules as configured now apply. A second replay of the same ID is refused (the
 * unique index communications_replayed_once decides, also between two replays at once).
 */
export async function runCommsReplay(deps: Deps, idText: string): Promise<number> {
  const id = parseCommId(idText);
  const db = await deps.db();
  const comms = new CommunicationsRepo(db, deps.clock);
  const row = comms.require(id);
  if (row.direction !== 'inbound') {
    throw new UserError('E_REPLAY_OUTBOUND', `Communication ${id} is outbound: only received mail is run through the inbound rules.`, { command: 'mailctl queue list' });
  }
  const before = comms.replayOf(id);
  if (before) throw new AlreadyReplayed(id, before, comms.lastReplay(id) ?? before);
  if (row.disposition === 'duplicate' && row.duplicateOf !== null) {
    throw new UserError('E_REPLAY_DUPLICATE', `Communication ${id} is a duplicate of communication ${row.duplicateOf}: replaying it would only find that one again.`, { command: `mailctl comms replay ${row.duplicateOf}` });
  }
  const hash = requireRawHash(row);
  const config = (await deps.config()).read();
  const accountName = row.account ?? row.table ?? '';
  const account = config.inbound?.[accountName];
  if (!account) {
    throw new UserError('E_NO_ACCOUNT', `The inbound account "${mailLine(accountName)}" that took communication ${id} is no longer configured: its rules are needed to replay it.`, { command: `mailctl configure inbound ${accountName}`, exitCode: ExitCode.config });
  }
  const keys = await loadKbKeys(config, (await deps.secrets()).store);
  const globals = resolveGlobals(config.globals ?? {});
  const store = await deps.messageStore();
  const ctx: IngestContext = {
    db, clock: deps.clock, keys: keys.all, kb: keys.kb.name, maxTextChars: globals.max_body_size, store,
    // A sender already told "not accepted" is not told again by a replay.
    noticeFrom: row.disposition === 'rejected' ? undefined : config.outbound?.from,
    noticeIntervalMs: globals.reject_notice_interval, ownAddresses: ownAddresses(config), referenceLifetimeMs: globals.reference_lifetime,
  };

  const batch = store.batch();
  let release = () => {};
  let outcome;
  try {
    const raw = await store.open(hash);
    let streamError: unknown;
    raw.on('error', (error) => (streamError ??= error));
    let taken;
    try {
      taken = await takeMessage(raw as Readable, batch, { maxTextChars: globals.max_body_size });
    } catch (error) {
      // takeMessage wraps a failing stream; the store's own error (corrupt, missing) says more.
      throw streamError instanceof UserError ? streamError : error;
    }
    if (streamError) throw streamError;
    ({ release } = await commitReserved(db, batch));
    try {
      // IMMEDIATE: read-then-write beside a running daemon must wait for its lock, not fail with SQLITE_BUSY.
      outcome = db.transaction(() => commitMessage(ctx, account, null, taken, { replayOf: id })).immediate();
    } catch (error) {
      const replayed = /UNIQUE constraint failed: communications\.replay_of/.test((error as Error).message) ? comms.replayOf(id) : undefined;
      if (replayed) throw new AlreadyReplayed(id, replayed, comms.lastReplay(id) ?? replayed);
      throw error;
    }
  } catch (error) {
    await batch.discard();
    throw error;
  } finally {
    release();
  }
  if (outcome.kind !== 'processed') throw new Error(`replay of communication ${id} was not processed (${outcome.kind})`);
  const replay = comms.require(outcome.communicationId);
  const { out } = deps;
  const line = `communication ${replay.id}: ${replay.disposition}${replay.reason ? ` — ${mailLine(replay.reason)}` : ''}`;
  if (mayChangeOnReplay(replay.disposition)) out.warn(`Replayed communication ${id} as ${line}. It did not take effect; once the cause is fixed, run  mailctl comms replay ${replay.id}`);
  else out.success(`Replayed communication ${id} as ${line}`);
  if (outcome.recordId !== null) out.line(`  record #${outcome.recordId}`);
  out.line(`  communication ${id} keeps its first outcome (${row.disposition}).`);
  out.data({ ok: true, replayOf: id, communication: replay, recordId: outcome.recordId });
  return ExitCode.ok;
}
