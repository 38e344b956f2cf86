import type { InboundAccount } from './inbound-config.js';
import { ingestMessage, type IngestContext, type IngestOutcome } from './ingest-message.js';
import type { MailSource, MessageRef } from './mail-source.js';

export interface PollResult {
  listed: number;
  processed: number;
  alreadyTaken: number;
  repeats: number;
  dispositions: Record<string, number>;
}

/**
 * One poll of one mailbox. IMAP's regular poll takes unseen mail only; a sweep takes all
 * (mail someone marked read by hand). POP3 and Graph ignore read marks: every message is
 * listed and told apart by its id.
 */
export async function pollAccount(ctx: IngestContext, account: InboundAccount, source: MailSource, options: { sweep: boolean; stop?: () => boolean }): Promise<PollResult> {
  const refs = await source.list({ unseenOnly: account.protocol === 'imap' && !options.sweep });
  const result: PollResult = { listed: refs.length, processed: 0, alreadyTaken: 0, repeats: 0, dispositions: {} };
  const marks = batchMarks(source, markBatchSize);
  try {
    for (const ref of refs) {
      if (options.stop?.()) break; // a stop request: finish the message in hand, take no new one
      const outcome: IngestOutcome = await ingestMessage(ctx, account, marks.source, ref);
      if (outcome.kind === 'already-taken') result.alreadyTaken++;
      else if (outcome.kind === 'repeat') result.repeats++;
      else {
        result.processed++;
        result.dispositions[outcome.disposition] = (result.dispositions[outcome.disposition] ?? 0) + 1;
      }
    }
  } catch (error) {
    await marks.flush().catch(() => undefined); // what was committed is still marked, if the mailbox lets us
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
 */
function batchMarks(source: MailSource, size: number): { source: MailSource; flush: () => Promise<void> } {
  const markMany = source.markDoneMany?.bind(source);
  if (!markMany) return { source, flush: async () => undefined };
  const pending: MessageRef[] = [];
  const flush = async () => {
    if (pending.length > 0) await markMany(pending.splice(0));
  };
  const batched: MailSource = {
    protocol: source.protocol,
    verifyServer: () => source.verifyServer(),
    verifyAccount: () => source.verifyAccount(),
    list: (listOptions) => source.list(listOptions),
    open: (ref) => source.open(ref),
    markDone: async (ref) => {
      pending.push(ref);
      if (pending.length >= size) await flush();
    },
    close: () => source.close(),
  };
  return { source: batched, flush };
}
