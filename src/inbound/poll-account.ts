import { OAuthFailure } from '../auth/oauth-failure.js';
import { UserError } from '../errors.js';
import { durableTransaction } from '../store/database.js';
import { commitReserved } from '../store/store-reservations.js';
import type { InboundAccount } from './inbound-config.js';
import { CommunicationsRepo, reusedKey, type StoredUnderKey } from '../store/communications-repo.js';
import { GraphDeltaRepo } from '../store/graph-delta-repo.js';
import { databaseFull } from '../store/database-full.js';
import { MessageFailuresRepo } from '../store/message-failures-repo.js';
import type { StoredBlob } from '../store/message-store.js';
import { commitMessage, type IngestContext } from './ingest-message.js';
import { SourceStreamError, takeMessage, type TakenMessage } from './parse-message.js';
import { InboundFailure } from './inbound-failure.js';
import type { MailSource, MarkResult, MessageRef } from './mail-source.js';
import { commitGivenUp, type GivenUp } from './quarantine-message.js';
import { headerFacts, watchArrival, type Arrival } from './watch-arrival.js';
import { receivedDate } from '../mime/received-date.js';

/** A message committed by a poll (for the daemon's metrics): its disposition, when it reached the mailbox when known, when it was committed. */
export interface CommittedMessage {
  disposition: string;
  arrivedAt: Date | null;
  committedAt: Date;
}

export interface PollResult {
  listed: number;
  processed: number;
  alreadyTaken: number;
  dispositions: Record<string, number>;
  /** Bytes of new content written to the message store (compressed; deduplicated content counts 0). */
  storedBytes: number;
  /** What marking in the mailbox did (after the rows committed). */
  marks: MarkSummary;
  /** Messages that could not be taken this poll: each is tried again at the next, up to `maxAttempts`. */
  failed: MessageFailure[];
  /** Messages given up on this poll after their last attempt: quarantined (also counted in `processed`). */
  quarantined: QuarantinedMessage[];
  /** Listed messages not reached: the poll reached its cap (or was asked to stop); taken next poll. */
  left: number;
  /** Why the poll ended before the end of its list ("10000 messages", "300s"), null when it did not. */
  capped: string | null;
}

/** A message that failed, named as far as it is known. */
export interface MessageFailure {
  key: string;
  /** Failed attempts so far, across polls. */
  attempts: number;
  error: string;
  subject: string | null;
  from: string | null;
}

export interface QuarantinedMessage extends MessageFailure {
  communicationId: number;
  /** Bytes of it kept with the communication (what arrived; 0 when none did). */
  bytesKept: number;
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

/** What one poll may take, and how often a message is tried. */
export interface PollLimits {
  /** Failed attempts (across polls) after which a message is quarantined. */
  maxAttempts: number;
  /** Messages opened per poll at most; the rest are taken at the next poll. */
  maxMessages: number;
  /** Milliseconds per poll after which no new message is opened; the rest are taken at the next poll. */
  maxMs: number;
  /** Fetch failures in a row, none of them the message's own, after which the poll stops: the server seems at fault. */
  maxFailuresInARow: number;
}

/**
 * A message is tried at 3 polls; a poll opens at most 10,000 messages and starts none after
 * 5 minutes (one mailbox must not hold the daemon: the other mailboxes and the queue wait for
 * it), then the account is due again at once. At ~100 messages a second that is a backlog of
 * 10,000 in one poll (the ingest benchmark's run), and minutes at most behind a slow server.
 */
export const defaultPollLimits: PollLimits = { maxAttempts: 3, maxMessages: 10_000, maxMs: 5 * 60_000, maxFailuresInARow: 3 };

/** Messages taken before their store batch and rows commit together: at most this many... */
const groupCount = 32;
/** ...or this many raw bytes (a crash re-downloads at most one group). */
const groupBytes = 8 * 1024 * 1024;

type Entry =
  | { ref: MessageRef; taken: TakenMessage; hadFailures: boolean }
  | { ref: MessageRef; givenUp: GivenUp; failure: MessageFailure };

/**
 * One poll of one mailbox. IMAP's regular poll takes unseen mail only; a sweep takes all
 * (mail someone marked read by hand). POP3 and Graph ignore read marks: messages are told
 * apart by their id. POP3 lists every message; Graph lists what its delta query says is new
 * and the messages it listed before that are not done yet (its place is kept in the database,
 * GraphDeltaRepo; a sweep lists the whole folder).
 *
 * Messages are taken in groups: each is streamed into the message store as it is parsed;
 * then the group's content is made durable (one round of fsyncs), its rows commit in one
 * transaction, and only then are its messages marked done in the mailbox. A failure leaves
 * the group unmarked, so its messages are taken again on the next poll.
 *
 * One message cannot block its mailbox: a message whose fetch fails (the source stays usable
 * for the next, MailSource.open) or whose ingest throws is skipped, and the rest flow in the
 * same poll. Its attempts are counted across polls (inbound_message_failures); at the
 * `maxAttempts`-th it is quarantined with what arrived of it and marked done — never deleted,
 * as its bytes may be incomplete. A failure that may be the server's (a lost connection, a
 * deadline) counts only when the server answered for other mail in this poll (sent it, or
 * refused it on its own account) or the account took other mail since that message last
 * failed; else it fails the poll instead, as do `maxFailuresInARow` such failures in a row.
 * A connection-level failure (login, list, the store or database) fails the poll as before.
 */
export async function pollAccount(ctx: IngestContext, account: InboundAccount, source: MailSource, options: { sweep: boolean; stop?: () => boolean; limits?: Partial<PollLimits>; onCommit?: (message: CommittedMessage) => void }): Promise<PollResult> {
  const limits = { ...defaultPollLimits, ...options.limits };
  const startedAt = ctx.clock.now().getTime();
  const refs = await source.list({
    unseenOnly: account.protocol === 'imap' && !options.sweep,
    sweep: options.sweep,
    ...(account.protocol === 'graph' ? { changes: new GraphDeltaRepo(ctx.db, ctx.clock).forAccount(account.table) } : {}),
  });
  const result: PollResult = { listed: refs.length, processed: 0, alreadyTaken: 0, dispositions: {}, storedBytes: 0, marks: { marked: 0, leftFlagged: 0, failed: 0, warning: null }, failed: [], quarantined: [], left: 0, capped: null };
  const table = account.table;
  const comms = new CommunicationsRepo(ctx.db, ctx.clock);
  const failures = new MessageFailuresRepo(ctx.db, ctx.clock);
  const priorAttempts = failures.pending(table);
  const marks = batchMarks(source, markBatchSize, result.marks);
  // Given up on, its bytes may be incomplete: never deleted from the mailbox.
  const markGivenUp = account.afterProcessing !== 'delete';
  let batch = ctx.store.batch();
  let group: Entry[] = [];
  let bytes = 0;
  /** Messages taken, or refused by the server on their own account, in this poll: the server answers. */
  let answered = 0;
  let opened = 0;
  /** Stored communications this poll matched to a listed message, or stored: each matches one message. */
  const claimed = new Set<string>();
  /** Failures that may be the server's, counted once the poll takes some other message. */
  const unproven: Failed[] = [];
  /** The failures since the last message taken. */
  let inARow: Failed[] = [];
  /** Whether the server was asked, this poll, if it works after failures in a row. */
  let probed = false;

  /** Counts a failed attempt; at the last, the message joins the group as given up. */
  const countFailure = ({ ref, error, headerBlock, copy }: Failed) => {
    const message = errorText(error);
    const attempts = failures.recordAttempt(table, ref.key, message);
    const failure: MessageFailure = { key: ref.key, attempts, error: message, ...headerFacts(headerBlock) };
    if (attempts < limits.maxAttempts) {
      result.failed.push(failure);
      return;
    }
    const fetching = error instanceof InboundFailure || error instanceof SourceStreamError;
    const kept = copy && copy.size > 0 ? copy : null;
    const whatArrived = !kept ? 'none of its bytes arrived'
      : fetching ? `${kept.size} bytes arrived before the failure (kept; the message may be incomplete)` : `its ${kept.size} bytes are kept`;
    const reason = `could not be ${fetching ? 'fetched' : 'ingested'} in ${attempts} attempts (last: ${message}); ${whatArrived}`;
    group.push({ ref, failure, givenUp: { mailboxKey: ref.key, attempts, reason, raw: kept, headerBlock } });
  };

  /**
   * Counts the failures that may be the server's, of messages after whose last failure the
   * account took other mail (in an earlier poll): the server delivers, so they are the messages'.
   * (Once the server answers in this poll, they are counted at once.)
   */
  const countProven = () => {
    for (const f of unproven.splice(0)) {
      if (failures.othersTakenSinceLastFailure(table, f.ref.key)) countFailure(f);
      else unproven.push(f);
    }
  };

  const commitGroup = async () => {
    if (group.length === 0) return;
    const entries = group;
    group = [];
    bytes = 0;
    const { release } = await commitReserved(ctx.db, batch);
    batch = ctx.store.batch();
    const commitOne = (entry: Entry): Outcome => {
      // Stored under the mailbox key, or a "reused" key when that is taken by a different message.
      const stored = comms.underMailboxKey(table, entry.ref.key);
      const key = reusedKey(entry.ref.key, stored);
      claimed.add(key);
      if ('givenUp' in entry) return { kind: 'given-up', communicationId: commitGivenUp(ctx.db, ctx.clock, table, { ...entry.givenUp, mailboxKey: key }) };
      // The same bytes under this key or its kin: taken before (a server whose listed sizes are off).
      const same = stored.find((row) => !claimed.has(row.mailboxKey) && row.rawHash === entry.taken.raw.hash);
      if (same) {
        claimed.add(same.mailboxKey);
        if (entry.hadFailures) failures.clear(table, entry.ref.key);
        return { kind: 'already-taken' };
      }
      const outcome = commitMessage(ctx, account, key, entry.taken);
      if (entry.hadFailures) failures.clear(table, entry.ref.key);
      return outcome;
    };
    let outcomes: Array<Outcome | { kind: 'failed'; error: unknown }>;
    try {
      // IMMEDIATE: the rules read before they write; a deferred transaction would fail at once
      // (SQLITE_BUSY, no waiting) when another process wrote in between.
      // Durable before the mark: with --after delete, a commit lost to a power loss would lose the mail.
      outcomes = durableTransaction(ctx.db, () => entries.map(commitOne));
    } catch (error) {
      // The database can fill before the store does (it keeps text the store compresses): say so.
      if (!isMessageFault(error)) throw databaseFull(error, ctx.db.name) ?? error;
      // One message's rows failed (its bytes are durable already): each on its own, so the others commit.
      outcomes = entries.map((entry) => {
        try {
          return durableTransaction(ctx.db, () => commitOne(entry));
        } catch (oneError) {
          if (!isMessageFault(oneError)) throw databaseFull(oneError, ctx.db.name) ?? oneError;
          return { kind: 'failed' as const, error: oneError };
        }
      });
    } finally {
      release();
    }
    const done: MessageRef[] = [];
    const committedAt = ctx.clock.now();
    outcomes.forEach((outcome, i) => {
      const entry = entries[i]!;
      if (options.onCommit && (outcome.kind === 'processed' || outcome.kind === 'given-up')) {
        const arrivedAt = entry.ref.arrivedAt ?? receivedDate('taken' in entry ? entry.taken.headerBlock : entry.givenUp.headerBlock);
        options.onCommit({ disposition: outcome.kind === 'given-up' ? 'quarantined' : outcome.disposition, arrivedAt, committedAt });
      }
      if (outcome.kind === 'failed') {
        // Only a taken message can fail here: counted as any failure (its bytes are whole, in the store).
        if ('taken' in entry) countFailure({ ref: entry.ref, error: outcome.error, headerBlock: entry.taken.headerBlock, copy: entry.taken.raw });
        return;
      }
      if (outcome.kind === 'already-taken') result.alreadyTaken++;
      else if (outcome.kind === 'given-up') {
        result.processed++;
        result.dispositions.quarantined = (result.dispositions.quarantined ?? 0) + 1;
      } else {
        result.processed++;
        result.dispositions[outcome.disposition] = (result.dispositions[outcome.disposition] ?? 0) + 1;
      }
      if ('givenUp' in entry) {
        if (outcome.kind === 'given-up') result.quarantined.push({ ...entry.failure, communicationId: outcome.communicationId, bytesKept: entry.givenUp.raw?.size ?? 0 });
        if (markGivenUp) done.push(entry.ref);
        else source.leaveAsIs?.(entry.ref);
        return;
      }
      result.storedBytes += entry.taken.raw.storedSize;
      done.push(entry.ref);
    });
    for (const ref of done) await marks.source.markDone(ref);
    // A message whose rows failed at its last attempt is given up on now.
    if (group.length > 0) await commitGroup();
  };

  try {
    for (const [index, ref] of refs.entries()) {
      if (options.stop?.()) {
        // A stop request: finish what is in hand, take no new message.
        result.left = refs.length - index;
        break;
      }
      if (sameMessageTaken(account.protocol, ref, comms.underMailboxKey(table, ref.key), claimed)) {
        // Committed before, not marked (a crash between the two): only marked now. One given up on
        // is not deleted (its bytes may be incomplete): with --after delete it is left as it is.
        result.alreadyTaken++;
        if (markGivenUp || !failures.isQuarantined(table, ref.key)) await marks.source.markDone(ref);
        else source.leaveAsIs?.(ref);
        continue;
      }
      const elapsed = ctx.clock.now().getTime() - startedAt;
      if (opened >= limits.maxMessages || elapsed >= limits.maxMs) {
        result.left = refs.length - index;
        result.capped = opened >= limits.maxMessages ? `${limits.maxMessages} messages` : `${Math.round(limits.maxMs / 1000)}s`;
        break;
      }
      opened++;
      const lastTry = (priorAttempts.get(ref.key) ?? 0) + 1 >= limits.maxAttempts;
      let arrival: Arrival | undefined;
      try {
        const watched = watchArrival(await source.open(ref), { batch, keepCopy: lastTry });
        arrival = watched.arrival;
        const taken = await takeMessage(watched.stream, batch, { maxTextChars: ctx.maxTextChars, ...(ctx.maxMessageBytes ? { maxMessage: { bytes: ctx.maxMessageBytes, protocol: source.protocol } } : {}) });
        group.push({ ref, taken, hadFailures: priorAttempts.has(ref.key) });
        bytes += taken.raw.size;
        answered++;
        inARow = [];
        // The server works: the failures before this one were the messages'.
        for (const f of unproven.splice(0)) countFailure(f);
      } catch (error) {
        const cause = causeOf(error, arrival);
        const kind = failureKind(error, arrival);
        if (kind === null) throw error;
        const failed: Failed = { ref, error, headerBlock: arrival?.headerBlock() || (cause instanceof InboundFailure ? cause.headerBlock : ''), copy: (await arrival?.copy().catch(() => null)) ?? null };
        if (kind === 'own') {
          // The server answered (for this message, with a refusal or garbage): it works.
          answered++;
          inARow = [];
          for (const f of unproven.splice(0)) countFailure(f);
        }
        if (kind === 'own' || answered > 0) countFailure(failed);
        else unproven.push(failed);
        if (kind === 'maybe-server') {
          inARow.push(failed);
          if (inARow.length >= limits.maxFailuresInARow) {
            // Once per poll, ask the server something cheap (the folder's status): if it answers,
            // it works, and these messages fail on their own account — counted, so that a few bad
            // messages at the head of the folder (Graph answering 500 for their $value, every
            // poll) are quarantined in time instead of blocking every later message for ever.
            if (!probed && (await serverAnswers(source))) {
              probed = true;
              answered++;
              inARow = [];
              for (const f of unproven.splice(0)) countFailure(f);
              continue;
            }
            countProven();
            throw serverAtFault(source, `${inARow.length} messages in a row could not be fetched`, inARow, unproven);
          }
        }
      }
      if (group.length >= groupCount || bytes >= groupBytes) await commitGroup();
    }
    countProven();
    await commitGroup();
    if (unproven.length > 0) throw serverAtFault(source, 'no message could be fetched', unproven, unproven);
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

/**
 * Whether `ref` is a message stored before under its key (or its kin: underMailboxKey), and if so
 * claims that communication in `claimed` (one stored message matches one listed message). A key
 * alone does not say so: a server may reuse a UIDL, or a UID under the same UIDVALIDITY (a
 * rebuilt mailbox), for new mail, which would then be marked done or deleted unread. So for IMAP
 * and POP3 the stored message must also have the size listed (RFC822.SIZE, LIST: exact octet
 * counts of what FETCH and RETR send); one given up on (quarantined: its size is what arrived)
 * matches its own key. A message matching none is taken, and stored under a "reused" key
 * (reusedKey) when its key is taken; if its bytes turn out to be stored under its key or kin
 * (a server whose sizes are off), it is only marked. Two different messages of the same size
 * under one reused key are not told apart. Graph's ids are never reused and its sizes
 * approximate: the key decides.
 */
function sameMessageTaken(protocol: InboundAccount['protocol'], ref: MessageRef, stored: StoredUnderKey[], claimed: Set<string>): boolean {
  const free = stored.filter((row) => !claimed.has(row.mailboxKey));
  const match = protocol === 'graph' ? free.find((row) => row.mailboxKey === ref.key)
    : free.find((row) => row.size === ref.size && row.disposition !== 'quarantined') ?? free.find((row) => row.mailboxKey === ref.key && row.disposition === 'quarantined');
  if (match) claimed.add(match.mailboxKey);
  return match !== undefined;
}

/** Whether the server answers a cheap question about the folder (verifyAccount), within its limits. */
async function serverAnswers(source: MailSource): Promise<boolean> {
  try {
    await source.verifyAccount();
    return true;
  } catch {
    return false;
  }
}

type Outcome = ReturnType<typeof commitMessage> | { kind: 'given-up'; communicationId: number };

/** A message that failed: the error, its header section as far as known, and what arrived of it (on a last attempt). */
interface Failed {
  ref: MessageRef;
  error: unknown;
  headerBlock: string;
  copy: StoredBlob | null;
}

/** The source's own error for a stream failure (takeMessage keeps only its words), else the error. */
function causeOf(error: unknown, arrival: Arrival | undefined): unknown {
  return error instanceof SourceStreamError ? arrival?.error() ?? error : error;
}

/**
 * Whether a failure while taking one message is that message's: 'own' (the source says the
 * server refused or garbled this message, or its bytes made our ingest throw), 'maybe-server'
 * (the connection was lost or a deadline passed: the message's or the server's), or null when
 * it is not about one message at all (login, the store's or the database's disk, a token): that
 * fails the poll. The source's errors are judged by what it says (an InboundFailure of phase
 * "fetch", MailSource.open); anything else from its stream is taken to be the connection's, and
 * anything else from open() the poll's.
 */
function failureKind(error: unknown, arrival: Arrival | undefined): 'own' | 'maybe-server' | null {
  const cause = causeOf(error, arrival);
  if (cause instanceof InboundFailure) return cause.phase !== 'fetch' ? null : cause.messageFault ? 'own' : 'maybe-server';
  if (error instanceof SourceStreamError) return 'maybe-server';
  if (arrival === undefined) return null;
  return isMessageFault(cause) ? 'own' : null;
}

/**
 * False for what is not one message's doing: a typed user error (the store's or the database's
 * disk is full), a token failure, a system call's error (EACCES, EROFS, EIO on our own files),
 * and SQLite's errors other than a constraint, a value too big or of the wrong type.
 */
function isMessageFault(error: unknown): boolean {
  if (error instanceof UserError || error instanceof OAuthFailure || error instanceof InboundFailure) return false;
  const e = error as { code?: unknown; syscall?: unknown } | undefined;
  if (e?.syscall !== undefined) return false;
  if (typeof e?.code === 'string' && e.code.startsWith('SQLITE_')) return /^SQLITE_(CONSTRAINT|TOOBIG|MISMATCH|RANGE)/.test(e.code);
  return true;
}

/**
 * The poll's failure when its fetch failures may be the server's: names each message, and says
 * which were not counted against their message (no other mail was taken since they failed).
 */
function serverAtFault(source: MailSource, what: string, failed: Failed[], uncounted: Failed[]): InboundFailure {
  const list = failed.map((f) => `${describe(f.ref.key, headerFacts(f.headerBlock))}${uncounted.includes(f) ? ' (not counted: the server may be at fault)' : ''}: ${errorText(f.error)}`).join('; ');
  return new InboundFailure(source.protocol, 'fetch', `${what}: ${list}`.slice(0, 2000));
}

/** A message as an admin finds it: its key, and its subject and sender when known. */
export function describe(key: string, facts: { subject: string | null; from: string | null }): string {
  const known = [facts.subject !== null ? `"${facts.subject}"` : null, facts.from ? `from ${facts.from}` : null].filter(Boolean).join(' ');
  return known ? `${key} (${known})` : key;
}

function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 1000);
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
