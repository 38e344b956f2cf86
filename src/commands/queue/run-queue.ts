import type { Deps } from '../../deps.js';
import { ExitCode, UsageError, UserError } from '../../errors.js';
import { CommunicationsRepo } from '../../store/communications-repo.js';
import { QueueRepo, type ListedEntry, type QueueEntry, type QueueStatus } from '../../store/queue-repo.js';
import { mailLine } from '../../ui/output.js';

const statuses: QueueStatus[] = ['queued', 'deferred', 'sending', 'sent', 'failed', 'abandoned', 'duplicate', 'held'];

async function repo(deps: Deps): Promise<QueueRepo> {
  return new QueueRepo(await deps.db(), deps.clock);
}

function entryOf(queue: QueueRepo, id: string): QueueEntry {
  if (!/^\d+$/.test(id)) throw new UsageError('E_ID', `The queue id must be a whole number, not "${id}".`);
  const entry = queue.get(Number(id));
  if (!entry) throw new UsageError('E_QUEUE_UNKNOWN', `There is no queued message #${id}.`, { command: 'mailctl queue list' });
  return entry;
}

const view = ({ body: _body, attachments, ...rest }: QueueEntry) => ({ ...rest, attachments: attachments.map((a) => a.filename) });
const listedView = ({ body: _body, ...rest }: ListedEntry) => rest;

/** `mailctl queue list [--status S]` (postqueue -p): attachments by name; their bytes are never read. */
export async function runQueueList(deps: Deps, options: { status?: QueueStatus }): Promise<number> {
  if (options.status && !statuses.includes(options.status)) throw new UsageError('E_STATUS', `--status must be one of ${statuses.join(', ')}.`);
  const queue = await repo(deps);
  const entries = queue.list(options.status);
  const counts = queue.counts();
  if (entries.length === 0) deps.out.line('The queue is empty.');
  else deps.out.table(entries, [
    { header: 'ID', value: (e) => String(e.id) },
    { header: 'STATUS', value: (e) => e.status },
    { header: 'TRIES', value: (e) => String(e.attempts) },
    { header: 'NEXT TRY', value: (e) => (e.status === 'deferred' || e.status === 'queued' ? e.nextAttemptAt : '') },
    { header: 'TO', value: (e) => mailLine(e.to.join(', ')) },
    { header: 'RULE', value: (e) => e.ruleId ?? '' },
    // A subject may quote a record's title, which may come from mail.
    { header: 'SUBJECT', value: (e) => mailLine(e.subject.slice(0, 40)) },
  ]);
  deps.out.line(`\n${Object.entries(counts).map(([s, n]) => `${s}: ${n}`).join(', ') || 'no messages'}`);
  deps.out.data({ ok: true, counts, entries: entries.map(listedView) });
  return ExitCode.ok;
}

/** `mailctl queue show ID`: the message, its attempts and the server's words. */
export async function runQueueShow(deps: Deps, id: string): Promise<number> {
  const queue = await repo(deps);
  const entry = entryOf(queue, id);
  const attempts = queue.attempts(entry.id);
  const { out } = deps;
  out.line(`#${entry.id} ${entry.status}: "${mailLine(entry.subject)}" from ${mailLine(entry.from)} to ${mailLine(entry.to.join(', '))}`);
  out.line(`  table ${entry.table ?? '-'}, record ${entry.recordId ?? '-'}, rule ${entry.ruleId ?? '-'}; queued ${entry.createdAt}`);
  if (entry.lastError) out.line(`  last error: ${entry.lastError}`);
  if (entry.status === 'deferred') out.line(`  next try: ${entry.nextAttemptAt} (first failure ${entry.firstFailureAt})`);
  for (const a of attempts) out.line(`  ${a.at}  ${a.outcome}${a.response ? `: ${a.response}` : ''}`);
  out.data({ ok: true, entry: view(entry), attempts });
  return ExitCode.ok;
}

/** `mailctl queue retry ID | --all`: due now (postqueue -f / postsuper -r). */
export async function runQueueRetry(deps: Deps, id: string | undefined, options: { all?: boolean }): Promise<number> {
  const queue = await repo(deps);
  const targets = options.all ? [...queue.list('deferred', 100_000), ...queue.list('held', 100_000)] : id ? [entryOf(queue, id)] : [];
  if (!options.all && !id) throw new UsageError('E_ID', 'Name the message (queue retry ID) or pass --all.');
  const now = deps.clock.now();
  const comms = new CommunicationsRepo(await deps.db(), deps.clock);
  let count = 0;
  for (const entry of targets) {
    if (!['deferred', 'held', 'failed', 'abandoned', 'duplicate'].includes(entry.status)) {
      if (!options.all) throw new UsageError('E_QUEUE_STATE', `#${entry.id} is ${entry.status}; only deferred, held, failed, abandoned or duplicate messages can be retried.`);
      continue;
    }
    // Its stored content was purged (message_retention): there is nothing left to send.
    const purged = entry.communicationId !== null ? comms.get(entry.communicationId)?.contentPurgedAt : null;
    if (purged) {
      if (!options.all) throw new UserError('E_QUEUE_PURGED', `#${entry.id} cannot be retried: its stored content was purged at ${purged} (message_retention), so there is nothing left to send.`, { fix: 'Send the message again with mailctl send.' });
      continue;
    }
    queue.setStatus(entry.id, 'queued', { nextAttemptAt: now, ...(entry.status === 'abandoned' || entry.status === 'failed' ? { firstFailureAt: null } : {}) });
    count++;
  }
  deps.out.success(`${count} message(s) will be sent on the daemon's next cycle.`);
  deps.out.data({ ok: true, retried: count });
  return ExitCode.ok;
}

/** `mailctl queue delete ID` (postsuper -d) */
export async function runQueueDelete(deps: Deps, id: string): Promise<number> {
  const queue = await repo(deps);
  const entry = entryOf(queue, id);
  if (entry.status === 'sending') throw new UsageError('E_QUEUE_STATE', `#${entry.id} is being sent right now; try again in a moment.`);
  queue.delete(entry.id);
  deps.out.success(`Deleted #${entry.id} from the queue (its communication row stays).`);
  deps.out.data({ ok: true, deleted: entry.id });
  return ExitCode.ok;
}

/** `mailctl queue hold ID` / `release ID` (postsuper -h / -H) */
export async function runQueueHold(deps: Deps, id: string): Promise<number> {
  const queue = await repo(deps);
  const entry = entryOf(queue, id);
  if (!['queued', 'deferred'].includes(entry.status)) throw new UsageError('E_QUEUE_STATE', `#${entry.id} is ${entry.status}; only queued or deferred messages can be held.`);
  queue.setStatus(entry.id, 'held', { lastError: 'held by an admin' });
  deps.out.success(`Held #${entry.id}; release it with: mailctl queue release ${entry.id}`);
  deps.out.data({ ok: true, held: entry.id });
  return ExitCode.ok;
}

export async function runQueueRelease(deps: Deps, id: string): Promise<number> {
  const queue = await repo(deps);
  const entry = entryOf(queue, id);
  if (entry.status !== 'held') throw new UsageError('E_QUEUE_STATE', `#${entry.id} is ${entry.status}, not held.`);
  queue.setStatus(entry.id, 'queued', { nextAttemptAt: deps.clock.now(), lastError: null });
  deps.out.success(`Released #${entry.id}.`);
  deps.out.data({ ok: true, released: entry.id });
  return ExitCode.ok;
}
