import { durableTransaction } from '../store/database.js';
import { commitReserved } from '../store/store-reservations.js';
import type { InboundAccount } from './inbound-config.js';
import { CommunicationsRepo } from '../store/communications-repo.js';
import { databaseFull } from '../store/database-full.js';
import { commitMessage, takeFromMailbox, type IngestContext } from './ingest-message.js';
import type { TakenMessage } from './parse-message.js';
import { InboundFailure } from './inbound-failure.js';
import type { MailSource, MarkResult, MessageRef } from './mail-source.js';

export interface PollResult {
  listed: number;
  processed: number;
  alreadyTaken: number;
  dispositions: Record<string, number>;
  /** Bytes of new content written to the message store (compressed; deduplicated content counts 0). */
  storedBytes: number;
  /** What marking in the mailbox did (after the rows committed). */
  marks: MarkSummary;
}

/**
 * Marking a poll's messages done. `leftFlagged`: moved or deleted as far as the server allows
 * without a bare EXPUNGE (flagged \Deleted \Seen, left in the folder). `failed`: the server
 * refused (their rows are committed; the mark is tried again next poll, as each is listed again
 * and known by its mailbox id). `warning` says why, in the server's words for a failure.
 */
export interface MarkSummary {
  marked: number;
  leftFlagged: number;
  failed: number;
  warning: string | null;
}

/** Messages taken before their store batch and rows commit together: at most this many... */
const groupCount = 32;
/** ...or this many raw bytes (a crash re-downloads at most one group). */
const groupBytes = 8 * 1024 * 1024;

/**
 * One poll of one mailbox. IMAP's regular poll takes unseen mail only; a sweep takes all
 * (mail someone marked read by hand). POP3 and Graph ignore read marks: every message is
 * listed and told apart by its id.
 *
 * Messages are taken in groups: each is streamed into the message store as it is parsed;
 * then the group's content is made durable (one round of fsyncs), its rows commit in one
 * transaction, and only then are its messages marked done in the mailbox. A failure leaves
 * the group unmarked, so its messages are taken again on the next poll.
 */
export async function pollAccount(ctx: IngestContext, account: InboundAccount, source: MailSource, options: { sweep: boolean; stop?: () => boolean }): Promise<PollResult> {
  const refs = await source.list({ unseenOnly: account.protocol === 'imap' && !options.sweep });
  const result: PollResult = { listed: refs.length, processed: 0, alreadyTaken: 0, dispositions: {}, storedBytes: 0, marks: { marked: 0, leftFlagged: 0, failed: 0, warning: null } };
  const comms = new CommunicationsRepo(ctx.db, ctx.clock);
  const marks = batchMarks(source, markBatchSize, result.marks);
  let batch = ctx.store.batch();
  let group: Array<{ ref: MessageRef; taken: TakenMessage }> = [];
  let bytes = 0;
  const commitGroup = async () => {
    if (group.length === 0) return;
    const taken = group;
    group = [];
    bytes = 0;
    const { release } = await commitReserved(ctx.db, batch);
    batch = ctx.store.batch();
    let outcomes: ReturnType<typeof commitMessage>[];
    try {
      // IMMEDIATE: the rules read before they write; a deferred transaction would fail at once
      // (SQLITE_BUSY, no waiting) when another process wrote in between.
      // Durable before the mark: with --after delete, a commit lost to a power loss would lose the mail.
      outcomes = durableTransaction(ctx.db, () => taken.map((t) => commitMessage(ctx, account, t.ref.key, t.taken)));
    } catch (error) {
      // The database can fill before the store does (it keeps text the store compresses): say so.
      throw databaseFull(error, ctx.db.name) ?? error;
    } finally {
      release();
    }
    outcomes.forEach((outcome, i) => {
      if (outcome.kind === 'already-taken') result.alreadyTaken++;
      else {
        result.processed++;
        result.dispositions[outcome.disposition] = (result.dispositions[outcome.disposition] ?? 0) + 1;
      }
      result.storedBytes += taken[i]!.taken.raw.storedSize;
    });
    for (const t of taken) await marks.source.markDone(t.ref);
  };
  try {
    for (const ref of refs) {
      if (options.stop?.()) break; // a stop request: finish what is in hand, take no new message
      if (comms.hasMailboxKey(account.table, ref.key)) {
        // Committed before, not marked (a crash between the two): only marked now.
        result.alreadyTaken++;
        await marks.source.markDone(ref);
        continue;
      }
      group.push({ ref, taken: await takeFromMailbox(ctx, source, ref, batch) });
      bytes += group[group.length - 1]!.taken.raw.size;
      if (group.length >= groupCount || bytes >= groupBytes) await commitGroup();
    }
    await commitGroup();
  } catch (error) {
    // What was taken whole before the failure is still committed and marked, if it can be.
    await commitGroup().catch(() => undefined);
    await batch.discard();
    await marks.flush().catch(() => undefined);
    throw error;
  }
  await marks.flush();
  return result;
}

const markBatchSize = 100;

/**
 * A view of the source whose markDone collects messages and marks them `size` at a time with
 * markDoneMany, when the source has it: on Dovecot one STORE per message cost more than
 * fetching the message. A message is still marked only after its rows are committed; one
 * committed but not yet marked when the daemon dies is listed again, recognised by its
 * mailbox id and only marked, as after a crash between commit and mark.
 *
 * A mark the server refuses does not stop the poll: the messages are committed, so taking
 * new mail goes on, and the refusal is counted in `summary` for status and doctor. Anything
 * other than an InboundFailure (a bug) still fails the poll.
 */
function batchMarks(source: MailSource, size: number, summary: MarkSummary): { source: MailSource; flush: () => Promise<void> } {
  const markMany = source.markDoneMany?.bind(source);
  const markSome = async (refs: MessageRef[]) => {
    let outcome: MarkResult | void;
    try {
      outcome = markMany ? await markMany(refs) : await source.markDone(refs[0]!);
    } catch (error) {
      if (!(error instanceof InboundFailure)) throw error;
      summary.failed += refs.length;
      summary.warning = error.message;
      return;
    }
    summary.marked += refs.length;
    if (outcome?.leftFlagged) {
      summary.leftFlagged += outcome.leftFlagged.count;
      if (summary.failed === 0) summary.warning = outcome.leftFlagged.reason;
    }
  };
  const pending: MessageRef[] = [];
  const flush = async () => {
    if (pending.length > 0) await markSome(pending.splice(0));
  };
  const batched: MailSource = {
    protocol: source.protocol,
    verifyServer: () => source.verifyServer(),
    verifyAccount: () => source.verifyAccount(),
    list: (listOptions) => source.list(listOptions),
    open: (ref) => source.open(ref),
    markDone: async (ref) => {
      if (!markMany) return markSome([ref]);
      pending.push(ref);
      if (pending.length >= size) await flush();
    },
    close: () => source.close(),
  };
  return { source: batched, flush };
}
