import type { InboundAccount } from './inbound-config.js';
import { ingestMessage, type IngestContext, type IngestOutcome } from './ingest-message.js';
import type { MailSource } from './mail-source.js';

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
  for (const ref of refs) {
    if (options.stop?.()) break; // a stop request: finish the message in hand, take no new one
    const outcome: IngestOutcome = await ingestMessage(ctx, account, source, ref);
    if (outcome.kind === 'already-taken') result.alreadyTaken++;
    else if (outcome.kind === 'repeat') result.repeats++;
    else {
      result.processed++;
      result.dispositions[outcome.disposition] = (result.dispositions[outcome.disposition] ?? 0) + 1;
    }
  }
  return result;
}
