import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { readFileSync } from 'node:fs';
import type { Deps } from '../../deps.js';
import { ExitCode, UsageError } from '../../errors.js';
import { resolveGlobals } from '../../config/globals.js';
import { checkDraft } from '../../outbound/presend-checks.js';
import { checkRuleId } from '../../outbound/rule-id.js';
import { requireOutbound } from '../../outbound/resolve-outbound.js';
import { QueueRepo, type QueuedAttachment } from '../../store/queue-repo.js';
import { commitReserved } from '../../store/store-reservations.js';
import { attachmentContentType } from '../../mime/build-mime.js';
import { RecordsRepo } from '../../store/records-repo.js';
import { TablesRepo } from '../../store/tables-repo.js';
import { readTextFile } from '../../ui/read-text-file.js';

export interface SendOptions {
  table: string;
  record: string;
  to: string[];
  subject: string;
  body?: string;
  bodyFile?: string;
  attach?: string[];
  rule?: string;
  from?: string;
}

/** Same rule, record, recipients and content within this window: a rule fired twice. */
const duplicateWindowMs = 10 * 60_000;

/**
 * `mailctl send`: validates a record email (the pre-send checks) and stores it in the
 * queue; the daemon sends it. A duplicate of one queued in the last 10 minutes is held
 * back and reported with its rule.
 */
export async function runSend(deps: Deps, options: SendOptions): Promise<number> {
  const { out } = deps;
  if (!/^\d+$/.test(options.record)) throw new UsageError('E_ID', `--record must be a whole number, not "${options.record}".`);
  if ((options.body === undefined) === (options.bodyFile === undefined)) throw new UsageError('E_BODY', 'Give the body with exactly one of --body or --body-file.');
  if (options.rule !== undefined) checkRuleId(options.rule);
  const config = (await deps.config()).read();
  const outbound = requireOutbound(config);
  const db = await deps.db();
  new TablesRepo(db, deps.clock).require(options.table);
  const record = new RecordsRepo(db, deps.clock).require(Number(options.record));
  if (record.table !== options.table) throw new UsageError('E_RECORD_TABLE', `Record ${record.id} is in ${record.table}, not ${options.table}.`);
  const body = options.body ?? readTextFile(options.bodyFile!);
  const attachments = (options.attach ?? []).map((path) => {
    let content: Buffer;
    try {
      content = readFileSync(path);
    } catch (error) {
      throw new UsageError('E_FILE', `Cannot read the attachment ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}.`);
    }
    return { filename: basename(path), content };
  });
  const draft = { from: options.from ?? outbound.from, to: options.to.map((t) => t.trim()), subject: options.subject, text: body, attachments };
  const limits = resolveGlobals(config.globals ?? {});
  checkDraft(draft, { maxBodySize: limits.max_body_size, maxAttachmentSize: limits.max_attachment_size });

  const hash = createHash('sha256').update(draft.subject).update('\0').update(body);
  for (const a of attachments) hash.update('\0').update(a.filename).update(a.content);
  const contentHash = hash.digest('hex');
  const queue = new QueueRepo(db, deps.clock);
  const key = { ruleId: options.rule ?? null, recordId: record.id, to: draft.to, contentHash };
  const earlier = queue.findDuplicate(key, new Date(deps.clock.now().getTime() - duplicateWindowMs));
  // The attachments are copied into the message store now, durably, before the entry refers to
  // them: a file changed or deleted after `send` changes nothing. They are reserved until the
  // entry is committed, so a gc or purge running now leaves them alone.
  let release = () => {};
  let entry;
  try {
    const store = await deps.messageStore();
    const batch = store.batch();
    const stored: QueuedAttachment[] = [];
    try {
      for (const a of attachments) {
        const blob = await batch.put(a.content);
        stored.push({ filename: a.filename, contentType: attachmentContentType(a.filename), sha256: blob.hash, size: blob.size });
      }
    } catch (error) {
      // The attachments stored before the one that failed (the disk filled up) were left in the
      // store's temporary folder.
      await batch.discard();
      throw error;
    }
    ({ release } = await commitReserved(db, batch));
    entry = queue.enqueue({
      table: options.table, recordId: record.id, ruleId: options.rule ?? null, from: draft.from, to: draft.to, subject: draft.subject, body,
      attachments: stored, contentHash,
      status: earlier ? 'duplicate' : 'queued',
      ...(earlier ? { reason: `duplicate of queue #${earlier.id} (rule ${options.rule ?? '(none)'}, same record, recipients and content within 10 minutes)` } : {}),
    });
  } finally {
    release();
  }
  if (earlier) {
    out.warn(`Held back as a duplicate of queue #${earlier.id}: rule ${options.rule ?? '(none)'} sent the same message for record ${record.id} within 10 minutes.`);
    out.data({ ok: true, queued: false, duplicate: true, id: entry.id, duplicateOf: earlier.id, rule: options.rule ?? null });
    return ExitCode.ok;
  }
  out.success(`Queued as #${entry.id}; the daemon sends it (mailctl queue show ${entry.id}).`);
  out.data({ ok: true, queued: true, id: entry.id });
  return ExitCode.ok;
}
