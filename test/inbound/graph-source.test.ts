import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphSource } from '../../src/inbound/graph-source.js';
import { InboundFailure } from '../../src/inbound/inbound-failure.js';
import { reportInboundFailure } from '../../src/inbound/inbound-report.js';
import { startGraphFixture, type GraphFixture } from '../helpers/graph-fixture.js';
import { digestStream, sha256, simpleMessage } from '../helpers/messages.js';

describe('Microsoft Graph source (against a local fixture of the Graph mail endpoints)', () => {
  let graph: GraphFixture;
  const raws = [simpleMessage({ subject: 'one' }), simpleMessage({ subject: 'two' }), simpleMessage({ subject: 'three' })];
  beforeAll(async () => {
    graph = await startGraphFixture({ token: 'good-token', mailbox: 'contracts@acme.test', deniedMailbox: 'ceo@acme.test', folders: ['archive'] });
    raws.forEach((raw, i) => graph.messages.set(`AAMkAD${i}=`, { raw, isRead: i === 0 }));
  });
  afterAll(() => graph?.close());

  const waits: number[] = [];
  const source = (over: { token?: string; mailbox?: string; folder?: string; maxThrottleWaitMs?: number; afterProcessing?: 'mark-read' | 'move'; moveTo?: string } = {}) => {
    let invalidated = 0;
    const tokens = { getToken: async () => over.token ?? 'good-token', invalidate: async () => { invalidated++; } };
    const s = new GraphSource({
      baseUrl: graph.baseUrl,
      mailbox: over.mailbox ?? 'contracts@acme.test',
      folder: over.folder ?? 'inbox',
      afterProcessing: over.afterProcessing ?? 'mark-read',
      moveTo: over.moveTo,
      tokens,
      timeoutMs: 5000,
      maxThrottleWaitMs: over.maxThrottleWaitMs ?? 10_000,
      sleep: async (ms) => { waits.push(ms); },
    });
    return { s, invalidated: () => invalidated };
  };
  const failureOf = async (work: Promise<unknown>) => {
    const error = await work.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(InboundFailure);
    return error as InboundFailure;
  };

  it('reaches the API and verifies the account', async () => {
    const { s } = source();
    expect((await s.verifyServer()).greeting).toMatch(/^HTTP 401 from 127\.0\.0\.1/);
    expect(await s.verifyAccount()).toEqual({ folder: 'Inbox', messages: 3, unseen: 2 });
  });

  it('lists every message across pages, streams the raw MIME, and marks read', async () => {
    const { s } = source();
    const refs = await s.list({ unseenOnly: true });
    expect(refs.map((r) => r.key)).toEqual(['graph:AAMkAD0=', 'graph:AAMkAD1=', 'graph:AAMkAD2=']); // read marks ignored
    expect(graph.requests.some((r) => r.includes('$skip=2'))).toBe(true);
    expect((await digestStream(await s.open(refs[1]!))).sha256).toBe(sha256(raws[1]!));
    await s.markDone(refs[1]!);
    expect(graph.messages.get('AAMkAD1=')!.isRead).toBe(true);
  });

  it('401: the token is refused, dropped from the cache, and the diagnosis says reset-oauth', async () => {
    const { s, invalidated } = source({ token: 'expired-token' });
    const f = await failureOf(s.verifyAccount());
    expect(f).toMatchObject({ phase: 'auth', status: 401, detailCode: 'InvalidAuthenticationToken' });
    expect(invalidated()).toBe(1);
    expect(reportInboundFailure(f, { host: 'graph.microsoft.com', port: 443 }).diagnosis).toMatchObject({ id: 'graph-token-rejected', command: 'mailctl reset-oauth inbound TABLE' });
  });

  it('403 ErrorAccessDenied: communication established, but the mailbox gave the app no permission', async () => {
    const { s } = source({ mailbox: 'ceo@acme.test' });
    const f = await failureOf(s.verifyAccount());
    expect(f).toMatchObject({ phase: 'auth', status: 403, detailCode: 'ErrorAccessDenied' });
    expect(f.serverSaid).toContain('/users/ceo%40acme.test/mailFolders/inbox');
    expect(f.serverSaid).toContain('403: ErrorAccessDenied: Access is denied. Check credentials and try again.');
    const diagnosis = reportInboundFailure(f, { host: 'graph.microsoft.com', port: 443 }).diagnosis;
    expect(diagnosis.id).toBe('graph-access-denied');
    expect(diagnosis.cause).toContain('Able to contact graph.microsoft.com, but unable to establish successful email communication');
    expect(diagnosis.fix).toContain('Exchange Online PowerShell');
  });

  it('404: a missing folder or an unknown mailbox', async () => {
    expect(await failureOf(source({ folder: 'Contracts' }).s.verifyAccount())).toMatchObject({ phase: 'folder', detailCode: 'ErrorItemNotFound' });
    const unknown = await failureOf(source({ mailbox: 'nobody@acme.test' }).s.verifyAccount());
    expect(reportInboundFailure(unknown, { host: 'g', port: 443 }).diagnosis.id).toBe('graph-mailbox-not-found');
  });

  it('429 with Retry-After: waits as asked, then succeeds; gives up past the bound', async () => {
    waits.length = 0;
    graph.throttle(2, 3);
    expect(await source().s.verifyAccount()).toMatchObject({ messages: 3 });
    expect(waits).toEqual([3000, 3000]);
    graph.throttle(5, 30);
    const f = await failureOf(source({ maxThrottleWaitMs: 45_000 }).s.verifyAccount());
    expect(f).toMatchObject({ status: 429, detailCode: 'ApplicationThrottled' });
    expect(reportInboundFailure(f, { host: 'g', port: 443 }).diagnosis.id).toBe('graph-throttled');
    graph.throttle(0, 0);
  });

  it('429 with Retry-After: 0 (or a past date) backs off 1, 2, 4… s and gives up: no tight loop of requests each carrying the token', async () => {
    waits.length = 0;
    const before = graph.requests.length;
    graph.throttle(1000, 0);
    try {
      const f = await failureOf(source({ maxThrottleWaitMs: 60_000 }).s.verifyAccount());
      expect(f).toMatchObject({ status: 429, detailCode: 'ApplicationThrottled' });
      expect(waits).toEqual([1000, 2000, 4000, 8000, 16000]);
      expect(graph.requests.length - before).toBeLessThanOrEqual(7);
    } finally {
      graph.throttle(0, 0);
    }
  });

  it('throttling is waited out 60 s per poll in all, not per request', async () => {
    waits.length = 0;
    const { s } = source({ maxThrottleWaitMs: 60_000 });
    try {
      graph.throttle(2, 20);
      expect(await s.verifyAccount()).toMatchObject({ messages: 3 });
      graph.throttle(2, 20);
      const f = await failureOf(s.verifyAccount());
      expect(f.message).toMatch(/60 s per poll/);
      expect(waits).toEqual([20000, 20000, 20000]);
    } finally {
      graph.throttle(0, 0);
    }
  });

  it('the move folder: checked before use (an id or well-known name), and a move to a missing one is an error, not a silent success', async () => {
    const { s } = source();
    expect(await s.folderExists('archive')).toBe(true);
    expect(await s.folderExists('Processed')).toBe(false); // a display name is not what a move takes
    graph.messages.set('AAMkADmove=', { raw: simpleMessage({ subject: 'to move' }), isRead: false });
    const missing = await failureOf(source({ afterProcessing: 'move', moveTo: 'Processed' }).s.markDone({ key: 'graph:AAMkADmove=', size: 0, seen: false }));
    expect(missing).toMatchObject({ status: 404, detailCode: 'ErrorItemNotFound' });
    expect(graph.messages.has('AAMkADmove=')).toBe(true);
    await source({ afterProcessing: 'move', moveTo: 'archive' }).s.markDone({ key: 'graph:AAMkADmove=', size: 0, seen: false });
    expect(graph.messages.has('AAMkADmove=')).toBe(false);
  });
});
