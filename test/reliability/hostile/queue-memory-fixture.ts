import { createHash, randomBytes } from 'node:crypto';
import { resolvePaths } from '../../../src/config/paths.js';
import { openDatabase } from '../../../src/store/database.js';
import { FsMessageStore } from '../../../src/store/fs-message-store.js';
import { QueueRepo } from '../../../src/store/queue-repo.js';
import { bySize } from '../../helpers/reliability-tier.js';
import type { SmtpSink } from '../../helpers/smtp-sink.js';
import { cliJson } from '../outage-daemon.js';

/**
 * What the queue-memory tests share (issue #14, item 7: `queue list` over 200 sent messages with
 * a 10 MB attachment each died at 4.2 GB; `daemon --once` sending 60 of them peaked at 1.9 GB).
 */
export const attachmentBytes = 10_000_000;
export const mb = 1024 * 1024;
/** Peak RSS allowed for the child (node itself and the CLI's modules are about 60 MB of it). */
export const boundBytes = bySize(300, 200) * mb;

/**
 * A 10 MB attachment of its own for message `i`: a random 16 KB block repeated (gzip takes it
 * fast, so the test spends its time on mailctl, not on compression), headed by its number so
 * no two are the same blob.
 */
const block = randomBytes(16 * 1024);
export function attachment(i: number): Buffer {
  const bytes = Buffer.alloc(attachmentBytes);
  for (let at = 0; at < bytes.length; at += block.length) block.copy(bytes, at);
  bytes.write(`attachment ${i} of the queue-memory test\n`, 0);
  return bytes;
}

export const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** The first attachment part of a message built by mailctl, decoded. */
export function attachmentOf(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  const part = text.indexOf('Content-Disposition: attachment');
  const start = text.indexOf('\r\n\r\n', part) + 4;
  const end = text.indexOf('\r\n--', start);
  return Buffer.from(text.slice(start, end).replace(/\r\n/g, ''), 'base64');
}

/** A KB in `home` sending through `sink`, a record to send about, and its database and store opened here. */
export async function queueKb(home: string, sink: SmtpSink, cleanup: Array<() => unknown>) {
  const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
  await cliJson(env, ['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
  await cliJson(env, ['tables', 'add', 'contracts']);
  const record = (await cliJson(env, ['records', 'add', '--table', 'contracts', '--title', 'MSA'])).record as { id: number };
  await cliJson(env, ['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'none', '--from', 'records@acme.test']);
  const paths = resolvePaths(env);
  const db = await openDatabase(paths.databasePath);
  cleanup.push(() => db.close());
  return { env, record, db, store: new FsMessageStore(paths.messageStoreDir), queue: new QueueRepo(db, { now: () => new Date() }) };
}
