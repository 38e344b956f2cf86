import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveGlobals } from '../../src/config/globals.js';
import { runInboundCycle, type InboundCycleContext } from '../../src/daemon/inbound-cycle.js';
import { ImapSource } from '../../src/inbound/imap-source.js';
import type { InboundAccount } from '../../src/inbound/inbound-config.js';
import type { MailSource } from '../../src/inbound/mail-source.js';
import { silentLogger } from '../../src/logger.js';
import { FileSecretStore } from '../../src/secrets/file-secret-store.js';
import { CommunicationsRepo } from '../../src/store/communications-repo.js';
import { openDatabase } from '../../src/store/database.js';
import { FsMessageStore } from '../../src/store/fs-message-store.js';
import { readStored } from '../../src/store/message-store.js';
import { SyncRepo } from '../../src/store/sync-repo.js';
import { TablesRepo } from '../../src/store/tables-repo.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { simpleMessage } from '../helpers/messages.js';
import { useTempDirs } from '../helpers/temp-dir.js';

// Issue 14: per-message isolation when ingesting a message throws (not its fetch), and the cap
// on one poll — through runInboundCycle and pollAccount with a real Dovecot, database and store.
describe('one poll: a message whose ingest throws, and the cap on a poll (real Dovecot)', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  let users = 0;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: Array.from({ length: 3 }, (_, i) => ({ name: `box${i}@acme.test`, password: 'pw' })) });
  });
  afterAll(() => dovecot?.stop());

  async function setup(options: { wrap?: (source: MailSource) => MailSource; pollLimits?: InboundCycleContext['pollLimits'] } = {}) {
    const user = `box${users++}@acme.test`;
    let now = Date.parse('2026-11-27T10:00:00Z');
    const clock = { now: () => new Date(now) };
    const dir = tempDir();
    const db = await openDatabase(join(dir, 'mailctl.db'));
    const secrets = new FileSecretStore({ path: join(dir, 's.enc'), keyPath: join(dir, 'k') });
    const account: InboundAccount = {
      table: 'contracts', protocol: 'imap', host: '127.0.0.1', port: dovecot.imapPort, security: 'none', auth: { type: 'password', username: user, password: 'pw' },
      folder: 'INBOX', allowRecordCreation: false, unknownSender: 'ignore', notes: 'new-text', afterProcessing: 'mark-read', enabled: true,
    };
    new TablesRepo(db, clock).add('contracts');
    const store = new FsMessageStore(join(dir, 'messages'));
    const open = async () => {
      const source = new ImapSource({ host: '127.0.0.1', port: dovecot.imapPort, security: 'none', user, credential: { pass: 'pw' }, folder: 'INBOX', afterProcessing: 'mark-read', timeoutMs: 5000 });
      return options.wrap ? options.wrap(source) : source;
    };
    const ctx: InboundCycleContext = { db, store, clock, secrets, keys: new Map([['k1', randomBytes(32)]]), kb: 'acme-prod', globals: resolveGlobals({}), accounts: [account], log: silentLogger, timeoutMs: 5000, open, ...(options.pollLimits ? { pollLimits: options.pollLimits } : {}) };
    const poll = async () => {
      const [result] = await runInboundCycle(ctx, { force: true });
      if (result?.status !== 'ok') throw new Error(JSON.stringify(result));
      return result.poll;
    };
    return { user, db, store, clock, poll, advance: (ms: number) => { now += ms; }, deliver: (subject: string) => dovecot.deliver(user, simpleMessage({ subject, messageId: `${subject.replace(/\W/g, '')}-${randomBytes(3).toString('hex')}@acme.test` })) };
  }

  it('a message whose rows cannot be written is retried at 3 polls while the rest commit, then quarantined with its bytes whole', async () => {
    const s = await setup();
    // A real failure inside the commit of one message: SQLite refuses its row (as it would a value
    // too big or a broken constraint). Its quarantine row is let through.
    s.db.exec(`CREATE TRIGGER refuse_poison BEFORE INSERT ON communications WHEN NEW.subject = 'poison' AND NEW.disposition != 'quarantined'
      BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END`);
    for (const subject of ['one', 'poison', 'three']) s.deliver(subject);
    const unseen = () => dovecot.messages(s.user).filter((m) => !m.flags.includes('S')).map((m) => /^Subject: (.*)$/m.exec(m.raw)![1]);

    const first = await s.poll();
    expect(first).toMatchObject({ listed: 3, processed: 2 });
    expect(first.failed).toEqual([expect.objectContaining({ attempts: 1, subject: 'poison', from: 'pat@acme.test', error: expect.stringContaining('refused by the test trigger') })]);
    expect(unseen()).toEqual(['poison']);

    s.deliver('four');
    const second = await s.poll();
    expect(second).toMatchObject({ listed: 2, processed: 1 });
    expect(second.failed.map((f) => f.attempts)).toEqual([2]);

    const third = await s.poll();
    expect(third).toMatchObject({ listed: 1, processed: 1, dispositions: { quarantined: 1 }, failed: [] });
    expect(third.quarantined).toEqual([expect.objectContaining({ attempts: 3, subject: 'poison' })]);
    expect(unseen()).toEqual([]);
    const row = new CommunicationsRepo(s.db, s.clock).get(third.quarantined[0]!.communicationId)!;
    expect(row).toMatchObject({ disposition: 'quarantined', subject: 'poison', from: 'pat@acme.test', mailboxKey: third.quarantined[0]!.key });
    expect(row.reason).toMatch(/^could not be ingested in 3 attempts \(last: refused by the test trigger\); its \d+ bytes are kept/);
    // Its bytes are whole in the store: it can be replayed once the cause is fixed.
    const raw = dovecot.messages(s.user).find((m) => m.raw.includes('Subject: poison'))!.raw;
    expect((await readStored(s.store, row.rawHash!)).toString()).toBe(raw);
    expect(await s.poll()).toMatchObject({ listed: 0 });
  });

  it('a poll opens at most maxMessages; the account is due again at once and the rest come next', async () => {
    const s = await setup({ pollLimits: { maxMessages: 2 } });
    for (let i = 1; i <= 5; i++) s.deliver(`capped ${i}`);
    const first = await s.poll();
    expect(first).toMatchObject({ listed: 5, processed: 2, left: 3, capped: '2 messages' });
    // Due at once (not after inbound_check_frequency): the next cycle polls it without --force.
    expect(new SyncRepo(s.db).get('contracts').nextPollAt).toBe(s.clock.now().toISOString());
    expect(await s.poll()).toMatchObject({ listed: 3, processed: 2, left: 1 });
    expect(await s.poll()).toMatchObject({ listed: 1, processed: 1, left: 0, capped: null });
    expect(new SyncRepo(s.db).get('contracts').nextPollAt).not.toBe(s.clock.now().toISOString());
  });

  it('a poll opens no new message after maxMs', async () => {
    // Each message takes 50 s on this clock (a slow server): the fourth would start at 150 s.
    let advance: (ms: number) => void = () => undefined;
    const s = await setup({
      pollLimits: { maxMs: 120_000 },
      wrap: (source): MailSource => ({
        protocol: source.protocol,
        verifyServer: () => source.verifyServer(),
        verifyAccount: () => source.verifyAccount(),
        list: (listOptions) => source.list(listOptions),
        open: async (ref) => {
          const stream = await source.open(ref);
          advance(50_000);
          return stream;
        },
        markDone: (ref) => source.markDone(ref),
        close: () => source.close(),
      }),
    });
    advance = s.advance;
    for (let i = 1; i <= 5; i++) s.deliver(`slow ${i}`);
    expect(await s.poll()).toMatchObject({ listed: 5, processed: 3, left: 2, capped: '120s' });
    expect(await s.poll()).toMatchObject({ listed: 2, processed: 2, left: 0, capped: null });
  });
});
