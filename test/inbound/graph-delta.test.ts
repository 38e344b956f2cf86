import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveGlobals } from '../../src/config/globals.js';
import { runInboundCycle, type InboundCycleContext } from '../../src/daemon/inbound-cycle.js';
import { GraphSource } from '../../src/inbound/graph-source.js';
import type { InboundAccount } from '../../src/inbound/inbound-config.js';
import { silentLogger } from '../../src/logger.js';
import { FileSecretStore } from '../../src/secrets/file-secret-store.js';
import { ContactsRepo } from '../../src/store/contacts-repo.js';
import { openDatabase } from '../../src/store/database.js';
import { FsMessageStore } from '../../src/store/fs-message-store.js';
import { GraphDeltaRepo } from '../../src/store/graph-delta-repo.js';
import { TablesRepo } from '../../src/store/tables-repo.js';
import { startGraphFixture, type GraphIntercept } from '../helpers/graph-fixture.js';
import { simpleMessage } from '../helpers/messages.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { graphKb, runMeasured, startHostileGraph, startOAuth } from '../reliability/hostile/graph-harness.js';

// Issue 15, item 4: Graph polls by delta query, so a poll with nothing new costs one request —
// through runInboundCycle and pollAccount, a real GraphSource, database and store, against the
// Graph fixture's delta endpoint (nextLink pages, deltaLink, 410 for an expired token).
describe('Graph by delta query: one request when nothing is new, nothing missed or taken twice', () => {
  const tempDir = useTempDirs();
  const mailbox = 'contracts@acme.test';
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  async function setup(options: { after?: InboundAccount['afterProcessing']; intercept?: GraphIntercept; pollLimits?: InboundCycleContext['pollLimits'] } = {}) {
    const graph = await startGraphFixture({ token: 'good-token', mailbox, maxDeltaPageSize: 2, ...(options.intercept ? { intercept: options.intercept } : {}) });
    closers.push(() => graph.close());
    let now = Date.parse('2026-11-27T10:00:00Z');
    const clock = { now: () => new Date(now) };
    const dir = tempDir();
    const db = await openDatabase(join(dir, 'mailctl.db'));
    closers.push(async () => { db.close(); });
    new TablesRepo(db, clock).add('contracts');
    new ContactsRepo(db, clock).add({ email: 'pat@acme.test', name: 'Pat', canCreateIn: ['contracts'] });
    const account: InboundAccount = {
      table: 'contracts', protocol: 'graph', host: '127.0.0.1', port: 443, security: 'tls', auth: { type: 'password', username: mailbox, password: 'unused' },
      graphBaseUrl: graph.baseUrl, mailbox, folder: 'inbox', allowRecordCreation: true, unknownSender: 'ignore', notes: 'new-text', afterProcessing: options.after ?? 'mark-read', enabled: true,
    };
    // A cached token: no request goes anywhere but to the mailbox.
    const open = async (a: InboundAccount) => new GraphSource({ baseUrl: a.graphBaseUrl!, mailbox: a.mailbox!, folder: a.folder, afterProcessing: a.afterProcessing, tokens: { getToken: async () => 'good-token' }, timeoutMs: 5000 });
    const ctx: InboundCycleContext = {
      db, store: new FsMessageStore(join(dir, 'messages')), clock, secrets: new FileSecretStore({ path: join(dir, 's.enc'), keyPath: join(dir, 'k') }), keys: new Map([['k1', randomBytes(32)]]),
      kb: 'acme-prod', globals: resolveGlobals({}), accounts: [account], log: silentLogger, timeoutMs: 5000, open, ...(options.pollLimits ? { pollLimits: options.pollLimits } : {}),
    };
    let delivered = 0;
    /** One poll: its result and the requests it made to Graph. */
    const poll = async () => {
      const before = graph.requests.length;
      const [result] = await runInboundCycle(ctx, { force: true });
      if (result?.status !== 'ok') throw new Error(JSON.stringify(result));
      return { ...result.poll, requests: graph.requests.slice(before) };
    };
    const deliver = (...subjects: string[]) => {
      for (const subject of subjects) graph.messages.set(`AAMkAD-${delivered++}=`, { raw: simpleMessage({ subject }), isRead: false });
    };
    const communications = () => db.prepare("SELECT subject, mailbox_key AS key FROM communications WHERE direction = 'inbound' ORDER BY id").all() as Array<{ subject: string; key: string }>;
    return { graph, db, ctx, account, poll, deliver, communications, advance: (ms: number) => { now += ms; } };
  }

  const deltaCall = expect.stringMatching(/^GET \/v1\.0\/users\/contracts%40acme\.test\/mailFolders\/inbox\/messages\/delta\?\$deltatoken=/);

  it('a poll with nothing new costs exactly one request: the saved deltaLink (mark-read: our own marks are not taken for news)', async () => {
    const s = await setup({ after: 'mark-read' });
    s.deliver('one', 'two', 'three', 'four', 'five');
    const first = await s.poll();
    expect(first).toMatchObject({ listed: 5, processed: 5, dispositions: { 'record-created': 5 } });
    // The first round lists the folder in pages of (here) 2, newest first, to its deltaLink.
    expect(first.requests.filter((r) => r.includes('/messages/delta'))).toHaveLength(3);
    expect(first.requests[0]).toMatch(/\/messages\/delta\?\$select=id,isRead,receivedDateTime&\$orderby=receivedDateTime desc$/);

    // Our five PATCHes are changes: the delta lists them once, known by key, and marks nothing again.
    const second = await s.poll();
    expect(second).toMatchObject({ listed: 5, processed: 0, alreadyTaken: 5, marks: { marked: 5, failed: 0 } });
    expect(second.requests).toEqual([deltaCall, expect.stringContaining('$skiptoken='), expect.stringContaining('$skiptoken=')]);

    for (let i = 0; i < 2; i++) {
      const quiet = await s.poll();
      expect(quiet).toMatchObject({ listed: 0, processed: 0, alreadyTaken: 0 });
      expect(quiet.requests).toEqual([deltaCall]);
    }
    expect(s.communications()).toHaveLength(5);
  });

  it('new messages arrive by the delta and become records; with --after delete the removals are only news, not mail', async () => {
    const s = await setup({ after: 'delete' });
    s.deliver('one', 'two', 'three');
    expect(await s.poll()).toMatchObject({ listed: 3, processed: 3 });
    expect([...s.graph.messages.keys()]).toEqual([]);

    s.deliver('four', 'five');
    const next = await s.poll();
    // The delta says: three removed (our deletes), two new. Only the two are taken.
    expect(next).toMatchObject({ listed: 2, processed: 2, alreadyTaken: 0, dispositions: { 'record-created': 2 } });
    expect(next.requests.filter((r) => r.includes('/delta'))).toEqual([deltaCall, expect.stringContaining('$skiptoken='), expect.stringContaining('$skiptoken=')]);
    expect(next.requests.filter((r) => r.startsWith('GET') && r.endsWith('/$value'))).toHaveLength(2);
    expect(s.communications().map((c) => c.subject)).toEqual(['one', 'two', 'three', 'four', 'five']);
    expect((await s.poll()).requests).toEqual([deltaCall]);
  });

  it('an expired deltaLink (410 Gone): a new round lists the folder, the new message is taken, nothing twice', async () => {
    const s = await setup({ after: 'keep' });
    s.deliver('one', 'two', 'three');
    expect(await s.poll()).toMatchObject({ listed: 3, processed: 3 });
    s.deliver('four');
    s.graph.expireDeltaTokens();

    const resync = await s.poll();
    expect(resync).toMatchObject({ listed: 4, processed: 1, alreadyTaken: 3 });
    expect(resync.requests[0]).toEqual(deltaCall); // answered 410
    expect(resync.requests[1]).toMatch(/\/messages\/delta\?\$select=/); // a new round
    expect(s.communications().map((c) => c.subject)).toEqual(['one', 'two', 'three', 'four']);

    const quiet = await s.poll();
    expect(quiet).toMatchObject({ listed: 0, processed: 0 });
    expect(quiet.requests).toEqual([deltaCall]);
  });

  it('a message that failed is taken at the next poll although the delta does not list it again; so is one the poll\'s cap left', async () => {
    let refusals = 1;
    const s = await setup({
      after: 'keep',
      // Graph answers 500 for one message's content, once.
      intercept: (req, res, url) => {
        if (refusals === 0 || req.method !== 'GET' || !url.pathname.endsWith('/messages/AAMkAD-1%3D/$value')) return false;
        refusals--;
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'ErrorInternalServerError', message: 'An internal server error occurred.' } }));
        return true;
      },
      pollLimits: { maxMessages: 3 },
    });
    s.deliver('one', 'two', 'three', 'four', 'five');
    const first = await s.poll();
    // Taken oldest first: "two" fails, the cap (3 opened) leaves "four" and "five".
    expect(first).toMatchObject({ listed: 5, processed: 2, left: 2, failed: [expect.objectContaining({ key: 'graph:AAMkAD-1=', attempts: 1 })] });

    const second = await s.poll();
    // With --after keep nothing changed in the folder: the delta lists nothing, the three come from the carried list.
    expect(second).toMatchObject({ listed: 3, processed: 3, alreadyTaken: 0, failed: [] });
    expect(second.requests.filter((r) => r.includes('/delta'))).toEqual([deltaCall]);
    expect(s.communications().map((c) => c.subject).sort()).toEqual(['five', 'four', 'one', 'three', 'two']);

    const quiet = await s.poll();
    expect(quiet).toMatchObject({ listed: 0, processed: 0 });
    expect(quiet.requests).toEqual([deltaCall]);
  });

  it('a deltaLink to another host is refused: not called, not kept, the token not sent; the next poll goes on from the last good place', async () => {
    const elsewhere: string[] = [];
    const other: Server = createServer((req, res) => {
      elsewhere.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      res.end('{}');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', () => resolve()));
    closers.push(() => new Promise<void>((resolve) => other.close(() => resolve())));
    const otherPort = (other.address() as { port: number }).port;
    let hostile = false;
    const s = await setup({
      after: 'keep',
      intercept: (req, res, url) => {
        if (!hostile || !url.pathname.endsWith('/messages/delta')) return false;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ value: [{ id: 'AAMkAD-9=', isRead: false }], '@odata.deltaLink': `http://127.0.0.1:${otherPort}${url.pathname}?$deltatoken=stolen` }));
        return true;
      },
    });
    s.deliver('one');
    expect(await s.poll()).toMatchObject({ processed: 1 });
    const saved = new GraphDeltaRepo(s.db, s.ctx.clock).forAccount('contracts').load([s.graph.baseUrl, mailbox, 'inbox'].join('\n')).link;
    expect(saved).toMatch(/\$deltatoken=/);

    hostile = true;
    s.deliver('two');
    const [refused] = await runInboundCycle(s.ctx, { force: true });
    expect(refused).toMatchObject({ status: 'failed', error: expect.stringContaining(`Graph's @odata.deltaLink leads to http://127.0.0.1:${otherPort}, not to the configured Graph origin http://127.0.0.1:`) });
    expect((refused as { error: string }).error).toContain('not followed nor kept, so the token was not sent there');
    expect(elsewhere).toEqual([]);
    expect(new GraphDeltaRepo(s.db, s.ctx.clock).forAccount('contracts').load([s.graph.baseUrl, mailbox, 'inbox'].join('\n')).link).toBe(saved);

    hostile = false;
    const after = await s.poll();
    expect(after).toMatchObject({ listed: 1, processed: 1 });
    expect(after.requests[0]).toBe(`GET ${new URL(saved!).pathname}${decodeURIComponent(new URL(saved!).search)}`);
    expect(s.communications().map((c) => c.subject)).toEqual(['one', 'two']);
    expect(elsewhere).toEqual([]);
  });

  it('a place saved for another folder or mailbox is never used; the sweep starts the delta over as the safety net', async () => {
    const s = await setup({ after: 'keep' });
    s.deliver('one', 'two');
    expect(await s.poll()).toMatchObject({ processed: 2 });
    expect((await s.poll()).requests).toEqual([deltaCall]);

    // The account now reads "Inbox" (Graph's well-known names ignore case; the saved place is not its own).
    s.account.folder = 'Inbox';
    const moved = await s.poll();
    expect(moved.requests[0]).toMatch(/\/mailFolders\/Inbox\/messages\/delta\?\$select=/);
    expect(moved).toMatchObject({ listed: 2, processed: 0, alreadyTaken: 2 });

    // Past imap_full_sweep_interval (45 min) the poll is a sweep: a new round, whatever is saved.
    s.advance(46 * 60_000);
    const before = s.graph.requests.length;
    const [swept] = await runInboundCycle(s.ctx, { force: true });
    expect(swept).toMatchObject({ status: 'ok', swept: true, poll: { listed: 2, processed: 0, alreadyTaken: 2 } });
    expect(s.graph.requests.slice(before)).toEqual([expect.stringMatching(/\/messages\/delta\?\$select=/)]);
    expect((await s.poll()).requests).toEqual([expect.stringMatching(/\/mailFolders\/Inbox\/messages\/delta\?\$deltatoken=/)]);
  });
});

describe('Graph by delta query, as an admin runs it: daemon --once, a real OAuth token', () => {
  const tempDir = useTempDirs();

  it('a run with nothing new makes one request to the mailbox, and none for the token (cached)', async () => {
    const oauth = await startOAuth();
    const graph = await startHostileGraph(oauth);
    try {
      const kb = await graphKb(tempDir(), oauth, graph.baseUrl, 'mark-read');
      for (let i = 0; i < 3; i++) graph.messages.set(`AAMkAD-${i}=`, { raw: simpleMessage({ from: 'lee@partner.test', subject: `m${i}` }), isRead: false });
      const run = async () => {
        const before = graph.requests.length;
        const grants = Object.values(oauth.grants).reduce((a, b) => a + b, 0);
        const r = await runMeasured(['daemon', '--once', '--json'], kb.env, 60_000);
        expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
        return { account: r.account, requests: graph.requests.slice(before), tokens: Object.values(oauth.grants).reduce((a, b) => a + b, 0) - grants };
      };
      expect((await run()).account).toMatchObject({ status: 'ok', poll: { listed: 3, processed: 3 } });
      // Our marks come back once as changes (known by key, nothing marked again); then nothing.
      for (const listed of [3, 0]) {
        const quiet = await run();
        expect(quiet.account).toMatchObject({ status: 'ok', poll: { listed, processed: 0 } });
        expect(quiet.requests).toEqual([expect.stringMatching(/^GET \/v1\.0\/users\/contracts%40acme\.test\/mailFolders\/inbox\/messages\/delta\?\$deltatoken=/)]);
        expect(quiet.tokens).toBe(0);
      }
    } finally {
      await graph.close();
      await oauth.close();
    }
  }, 60_000);
});
