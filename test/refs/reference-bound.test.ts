import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { InboundAccount } from '../../src/inbound/inbound-config.js';
import { commitMessage } from '../../src/inbound/ingest-message.js';
import { takeMessage } from '../../src/inbound/parse-message.js';
import { composeMessage } from '../../src/outbound/compose-message.js';
import { RecordsRepo } from '../../src/store/records-repo.js';
import { TablesRepo } from '../../src/store/tables-repo.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { openStores } from '../store/store-fixture.js';

const account = {
  table: 'contracts', protocol: 'imap', host: '127.0.0.1', port: 143, security: 'none', auth: { type: 'password', username: 'contracts@acme.test' },
  folder: 'INBOX', allowRecordCreation: false, unknownSender: 'ignore', notes: 'whole-body', afterProcessing: 'mark-read', enabled: true,
} as unknown as InboundAccount;

const key = { id: 'k1', bytes: Buffer.alloc(32, 3) };
const day = 86_400_000;

describe('a reference does not let its holder append to a record for ever', () => {
  const tempDir = useTempDirs();

  /** A KB with one record; `reply(sealedAt, at)` runs a stranger's reply to a message sealed then through the ingest, as the daemon would at `at`. */
  async function kb(options: { lifetimeMs?: number | null } = {}) {
    const home = tempDir();
    const { db, store } = await openStores(home);
    const clock = { now: () => new Date('2026-11-27T10:00:00Z') };
    new TablesRepo(db, clock).add('contracts');
    const record = new RecordsRepo(db, clock).create({ table: 'contracts', title: 'MSA', createdBy: 'admin' });
    let n = 0;
    const reply = async (sealedAt: Date, at: Date) => {
      const ours = await composeMessage({ from: 'records@acme.test', to: ['pat@customer.test'], subject: 'Renewal', text: 'Please sign.' },
        { kb: 'acme', serverUrl: 'https://records.acme.test', table: 'contracts', recordId: record.id, origin: 'rule:renewal', sentAt: sealedAt }, key);
      const raw = [`From: someone@anywhere.test`, 'To: records@acme.test', `Subject: Re: ${ours.subject}`, `Message-ID: <reply-${++n}@anywhere.test>`, `In-Reply-To: <${ours.messageId}>`, '', `Appended ${n}`, ''].join('\r\n');
      const batch = store.batch();
      const taken = await takeMessage(Readable.from([Buffer.from(raw)]), batch, { maxTextChars: 100_000 });
      await batch.commit();
      const ctx = { db, clock: { now: () => at }, keys: new Map([[key.id, key.bytes]]), kb: 'acme', maxTextChars: 100_000, store, ...(options.lifetimeMs !== undefined ? { referenceLifetimeMs: options.lifetimeMs } : {}) };
      const outcome = db.transaction(() => commitMessage(ctx, account, `imap:1:${n}`, taken))();
      if (outcome.kind !== 'processed') throw new Error('not taken');
      return db.prepare('SELECT disposition, reason, record_id AS recordId FROM communications WHERE id = ?').get(outcome.communicationId) as { disposition: string; reason: string; recordId: number | null };
    };
    return { db, record, reply, close: () => db.close() };
  }

  it('expires after reference_lifetime (365 days by default): an older one is refused with the reason, a younger one updates; "forever" keeps them all', async () => {
    const now = new Date('2026-11-27T10:00:00Z');
    const bounded = await kb();
    try {
      const old = await bounded.reply(new Date(now.getTime() - 400 * day), now);
      expect(old.disposition).toBe('ignored');
      expect(old.recordId).toBeNull();
      expect(old.reason).toContain('in-reply-to: sealed 2025-10-23T10:00:00Z, older than reference_lifetime 365d');
      expect(await bounded.reply(new Date(now.getTime() - 30 * day), now)).toMatchObject({ disposition: 'record-updated', recordId: bounded.record.id });
    } finally {
      bounded.close();
    }
    const forever = await kb({ lifetimeMs: null });
    try {
      expect(await forever.reply(new Date(now.getTime() - 4000 * day), now)).toMatchObject({ disposition: 'record-updated', recordId: forever.record.id });
    } finally {
      forever.close();
    }
  });

  it('a record\'s references can be revoked: those sealed before stop updating it, new mail works', async () => {
    const { db, reply, record, close } = await kb();
    const revokedAt = new Date('2026-11-27T12:00:00.400Z');
    try {
      expect(await reply(new Date('2026-11-27T11:00:00Z'), revokedAt)).toMatchObject({ disposition: 'record-updated' });
      new RecordsRepo(db, { now: () => revokedAt }).revokeReferences(record.id);
      const later = new Date('2026-11-28T09:00:00Z');
      const leaked = await reply(new Date('2026-11-27T11:00:00Z'), later);
      expect(leaked).toMatchObject({ disposition: 'ignored', recordId: null });
      expect(leaked.reason).toContain("before the record's references were revoked at 2026-11-27T12:00:00.400Z");
      // Sealed in the very second of the revocation: counts as before it.
      expect((await reply(new Date('2026-11-27T12:00:00Z'), later)).disposition).toBe('ignored');
      expect(await reply(new Date('2026-11-27T12:00:01Z'), later)).toMatchObject({ disposition: 'record-updated', recordId: record.id });
    } finally {
      close();
    }
  });

  it('mailctl records revoke-references ID says what it did, and records show keeps saying it', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    for (const args of [['init', '--name', 'acme', '--url', 'https://records.acme.test', '--environment', 'production'], ['tables', 'add', 'contracts'], ['records', 'add', '--table', 'contracts', '--title', 'MSA']]) {
      expect((await runCli(args, { env })).code).toBe(0);
    }
    const revoked = await runCli(['records', 'revoke-references', '1', '--json'], { env });
    expect(revoked.code, revoked.stderr).toBe(0);
    const data = JSON.parse(revoked.stdout) as { ok: boolean; record: number; refsRevokedBefore: string };
    expect(data).toMatchObject({ ok: true, record: 1 });
    const shown = await runCli(['records', 'show', '1'], { env });
    expect(shown.stdout).toContain(`references sent before ${data.refsRevokedBefore} are revoked`);
    expect((await runCli(['records', 'revoke-references', '9'], { env })).code).toBe(2);
  });
});
