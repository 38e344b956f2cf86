import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { resolvePaths } from '../../src/config/paths.js';
import type { InboundAccount } from '../../src/inbound/inbound-config.js';
import { commitMessage } from '../../src/inbound/ingest-message.js';
import { takeMessage } from '../../src/inbound/parse-message.js';
import { openDatabase, type Database } from '../../src/store/database.js';
import { FsMessageStore } from '../../src/store/fs-message-store.js';

/** The account the rules run under: known contacts create records in contracts, strangers get the guest. */
const account = {
  table: 'contracts', protocol: 'imap', host: '127.0.0.1', port: 143, security: 'none', auth: { type: 'password', username: 'contracts@acme.test' },
  folder: 'INBOX', allowRecordCreation: true, unknownSender: 'guest', guestContact: 'guest@acme.test', notes: 'new-text', afterProcessing: 'mark-read', enabled: true,
} as unknown as InboundAccount;

export interface Taken {
  communicationId: number;
  rawHash: string;
  attachments: string[];
}

/** Opens the installation's database and message store, as the daemon does. */
export async function openStores(home: string): Promise<{ db: Database; store: FsMessageStore }> {
  const paths = resolvePaths({ MAILCTL_HOME: home });
  return { db: await openDatabase(paths.databasePath), store: new FsMessageStore(paths.messageStoreDir) };
}

let mailboxKeys = 0;

/**
 * Takes each message as the daemon does (into the store, then its rows through the rules), as
 * if it arrived at `at`: the real ingest path, with the clock set to that day.
 */
export async function ingestAt(home: string, messages: Array<{ raw: string | Buffer; at: Date }>): Promise<Taken[]> {
  const { db, store } = await openStores(home);
  try {
    const out: Taken[] = [];
    for (const { raw, at } of messages) {
      const batch = store.batch();
      const taken = await takeMessage(Readable.from([Buffer.from(raw)]), batch, { maxTextChars: 1_000_000 });
      await batch.commit();
      const ctx = { db, clock: { now: () => at }, keys: new Map(), kb: 'acme', maxTextChars: 1_000_000, store };
      const outcome = db.transaction(() => commitMessage(ctx, account, `imap:1:${++mailboxKeys}`, taken))();
      if (outcome.kind !== 'processed') throw new Error('not taken');
      out.push({ communicationId: outcome.communicationId, rawHash: taken.raw.hash, attachments: taken.parsed?.attachments.map((a) => a.sha256) ?? [] });
    }
    return out;
  } finally {
    db.close();
  }
}

/** True when the blob's file is in the store of `home`. */
export function blobExists(home: string, hash: string): boolean {
  return existsSync(blobPath(home, hash));
}

export function blobPath(home: string, hash: string): string {
  return join(resolvePaths({ MAILCTL_HOME: home }).messageStoreDir, 'objects', hash.slice(0, 2), `${hash}.gz`);
}

/** A message from `from` with the given attachments (name → bytes). */
export function messageWith(opts: { from: string; subject: string; messageId: string; text: string; attachments?: Record<string, Buffer> }): string {
  const parts = Object.entries(opts.attachments ?? {}).flatMap(([name, bytes]) => ['--b0', `Content-Type: application/pdf; name="${name}"`, `Content-Disposition: attachment; filename="${name}"`,
    'Content-Transfer-Encoding: base64', '', bytes.toString('base64').replace(/.{76}/g, '$&\r\n')]);
  return [`From: ${opts.from}`, 'To: contracts@acme.test', `Subject: ${opts.subject}`, `Message-ID: <${opts.messageId}>`, 'Date: Fri, 27 Nov 2026 10:00:00 +0000', 'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b0"', '', '--b0', 'Content-Type: multipart/alternative; boundary="b1"', '',
    '--b1', 'Content-Type: text/plain; charset=utf-8', '', opts.text, '--b1', 'Content-Type: text/html; charset=utf-8', '', `<p>${opts.text}</p>`, '--b1--',
    ...parts, '--b0--', ''].join('\r\n');
}
