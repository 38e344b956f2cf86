import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveGlobals } from '../../src/config/globals.js';
import { runInboundCycle, type InboundCycleContext } from '../../src/daemon/inbound-cycle.js';
import type { InboundAccount } from '../../src/inbound/inbound-config.js';
import { silentLogger } from '../../src/logger.js';
import { FileSecretStore } from '../../src/secrets/file-secret-store.js';
import { FsMessageStore } from '../../src/store/fs-message-store.js';
import { openDatabase } from '../../src/store/database.js';
import { SyncRepo } from '../../src/store/sync-repo.js';
import { TablesRepo } from '../../src/store/tables-repo.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { freePort } from '../helpers/free-port.js';
import { simpleMessage } from '../helpers/messages.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const minute = 60_000;

describe('the inbound scheduler on a moving clock (real Dovecot)', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'contracts@acme.test', password: 'c-pass' }] });
  });
  afterAll(() => dovecot?.stop());

  async function setup(extraAccounts: InboundAccount[] = []) {
    let now = Date.parse('2026-11-27T10:00:00Z');
    const clock = { now: () => new Date(now) };
    const dir = tempDir();
    const db = await openDatabase(join(dir, 'mailctl.db'));
    const secrets = new FileSecretStore({ path: join(dir, 's.enc'), keyPath: join(dir, 'k') });
    await secrets.set('pw', 'c-pass');
    const account: InboundAccount = {
      table: 'contracts', protocol: 'imap', host: '127.0.0.1', port: dovecot.imapPort, security: 'none', auth: { type: 'password', username: 'contracts@acme.test', password: '${secret:pw}' },
      folder: 'INBOX', allowRecordCreation: false, unknownSender: 'ignore', notes: 'new-text', afterProcessing: 'mark-read', enabled: true,
    };
    for (const a of [account, ...extraAccounts]) new TablesRepo(db, clock).add(a.table);
    const ctx: InboundCycleContext = { db, store: new FsMessageStore(join(dir, 'messages')), clock, secrets, keys: new Map([['k1', randomBytes(32)]]), kb: 'acme-prod', globals: resolveGlobals({}), accounts: [...extraAccounts, account], log: silentLogger, timeoutMs: 3000 };
    return { ctx, db, advance: (ms: number) => { now += ms; } };
  }

  it('regular polls every minute take unseen mail only; the sweep 45 minutes on takes mail read by hand, once', async () => {
    const s = await setup();
    dovecot.deliver('contracts@acme.test', simpleMessage({ subject: 'read by hand', messageId: 'hand-1@acme.test' }), undefined, { seen: true });
    dovecot.deliver('contracts@acme.test', simpleMessage({ subject: 'new', messageId: 'new-1@acme.test' }));
    const polls: Array<{ at: number; swept: boolean; processed: number }> = [];
    for (let t = 0; t <= 50; t++) {
      const [result] = (await runInboundCycle(s.ctx)).filter((r) => r.table === 'contracts');
      if (result?.status === 'ok') polls.push({ at: t, swept: result.swept, processed: result.poll.processed });
      s.advance(minute);
    }
    expect(polls.length).toBe(51); // due every minute
    expect(polls[0]).toEqual({ at: 0, swept: false, processed: 1 }); // only the unseen one
    expect(polls.filter((p) => p.swept).map((p) => p.at)).toEqual([45]);
    expect(polls.find((p) => p.at === 45)!.processed).toBe(1); // the one read by hand
    expect(polls.reduce((n, p) => n + p.processed, 0)).toBe(2);
  });

  it('a failing account backs off and is reported, and never holds up the others', async () => {
    const dead: InboundAccount = {
      table: 'support', protocol: 'imap', host: '127.0.0.1', port: await freePort(), security: 'none', auth: { type: 'password', username: 'x', password: '${secret:pw}' },
      folder: 'INBOX', allowRecordCreation: false, unknownSender: 'ignore', notes: 'new-text', afterProcessing: 'mark-read', enabled: true,
    };
    const s = await setup([dead]);
    const attempts: number[] = [];
    for (let t = 0; t <= 20; t++) {
      const results = await runInboundCycle(s.ctx);
      if (results.find((r) => r.table === 'support')?.status === 'failed') attempts.push(t);
      expect(results.find((r) => r.table === 'contracts')?.status).toBe('ok'); // polled every minute regardless
      s.advance(minute);
    }
    expect(attempts).toEqual([0, 1, 3, 7, 15]); // 1, 2, 4, 8 minutes apart
    const state = new SyncRepo(s.db).get('support');
    expect(state).toMatchObject({ failures: 5, lastError: expect.stringContaining('ECONNREFUSED') });
  });
});
