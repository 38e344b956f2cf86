import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphSource } from '../../../src/inbound/graph-source.js';
import { InboundFailure } from '../../../src/inbound/inbound-failure.js';
import type { GraphFixture } from '../../helpers/graph-fixture.js';
import { digestStream, largeMessage, sha256, simpleMessage } from '../../helpers/messages.js';
import type { OAuthServer } from '../../helpers/oauth-server.js';
import { bySize } from '../../helpers/reliability-tier.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { graphKb, mb, runMeasured, startHostileGraph, startOAuth } from './graph-harness.js';

/**
 * Issue 14 item 2 (Graph): `--timeout` bounded a whole download, so an 8 MB message on a slow
 * link was aborted on every poll and blocked all later mail. Now it bounds each wait on the
 * server: a download that keeps progressing is taken, one that stalls fails alone (naming the
 * message), and a deadline from the size still ends one that only trickles.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes `raw` in `pieces` pieces, `gapMs` apart; stops when the client goes away. */
async function trickle(res: ServerResponse, raw: Buffer, pieces: number, gapMs: number): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/plain' });
  const size = Math.ceil(raw.length / pieces);
  for (let at = 0; at < raw.length && !res.destroyed; at += size) {
    if (at > 0) await sleep(gapMs);
    res.write(raw.subarray(at, at + size));
  }
  res.end();
}

describe('Graph: a slow download is not cut while it progresses; a stalled one fails alone', () => {
  const tempDir = useTempDirs();
  let oauth: OAuthServer;
  let graph: GraphFixture;
  const big = largeMessage(bySize(8, 8) * 1024 * 1024);
  /** Pieces of the big message and the gap between them: ~10 s in all, each gap well under --timeout 5s. */
  const pieces = bySize(32, 16);
  const gapMs = bySize(400, 650);
  /** Per message id: how the hostile server sends it (the rest the fixture sends at once). */
  const hostile = new Map<string, (res: ServerResponse) => Promise<void>>();

  beforeAll(async () => {
    oauth = await startOAuth();
    graph = await startHostileGraph(oauth, async (req, res, url) => {
      const m = /\/messages\/([^/]+)\/\$value$/.exec(url.pathname);
      const send = m ? hostile.get(decodeURIComponent(m[1]!)) : undefined;
      if (!send || req.method !== 'GET') return false;
      await send(res);
      return true;
    });
  }, 60_000);
  afterAll(async () => {
    await graph?.close();
    await oauth?.close();
  });

  it(`daemon --once --timeout 5s takes an ${mb(big.length)} MB message trickled over ~10 s, then the later mail`, async () => {
    graph.messages.clear();
    const later = [simpleMessage({ from: 'lee@partner.test', subject: 'later one' }), simpleMessage({ from: 'lee@partner.test', subject: 'later two' })];
    graph.messages.set('AAMkAD-slow=', { raw: big, isRead: false });
    later.forEach((raw, i) => graph.messages.set(`AAMkAD-later-${i}=`, { raw, isRead: false }));
    hostile.set('AAMkAD-slow=', (res) => trickle(res, big, pieces, gapMs));

    const kb = await graphKb(tempDir(), oauth, graph.baseUrl);
    const run = await runMeasured(['daemon', '--once', '--timeout', '5s', '--json'], kb.env, 60_000);
    console.info(`slow ${mb(big.length)} MB download: daemon --once took ${(run.ms / 1000).toFixed(1)} s, peak RSS ${mb(run.peakRss)} MB`);
    expect(run.account, `${run.stdout}\n${run.stderr}`).toMatchObject({ status: 'ok', poll: { listed: 3, processed: 3 } });
    expect(run.code).toBe(0);
    expect(run.ms).toBeGreaterThan(pieces * gapMs * 0.8); // it really was slow: longer than --timeout
    expect([...graph.messages.keys()]).toEqual([]); // all taken, then deleted

    const comms = JSON.parse((await kb.cli(['comms', 'list', '--json'])).stdout).communications as Array<{ rawHash: string; size: number }>;
    expect(comms.map((c) => c.rawHash).sort()).toEqual([sha256(big), ...later.map((raw) => sha256(raw))].sort());
    // Streamed: the process does not hold the message (nor grow by it).
    expect(run.peakRss).toBeLessThan(200 * 1024 * 1024);
  }, 90_000);

  describe('the source alone (the contract with the poll: one message fails, the next is taken)', () => {
    const source = (limits: ConstructorParameters<typeof GraphSource>[0]['limits'] = {}) => new GraphSource({
      baseUrl: graph.baseUrl, mailbox: 'contracts@acme.test', folder: 'inbox', afterProcessing: 'keep',
      tokens: { getToken: async () => token }, timeoutMs: 1000, limits,
    });
    let token = '';
    beforeAll(async () => {
      token = await clientCredentialsToken(oauth);
    });
    const failureOf = async (work: Promise<unknown>) => {
      const error = await work.then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      return error as Error;
    };

    it('a download that stalls past --timeout fails with an InboundFailure (fetch) naming the message, and the next message downloads', async () => {
      graph.messages.clear();
      const next = simpleMessage({ subject: 'after the stall' });
      graph.messages.set('AAMkAD-stall=', { raw: big, isRead: false });
      graph.messages.set('AAMkAD-next=', { raw: next, isRead: false });
      hostile.set('AAMkAD-stall=', async (res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write(big.subarray(0, 256 * 1024));
        await sleep(4000); // and then nothing, longer than the 1 s limit
        res.destroy();
      });
      const s = source();
      const started = Date.now();
      const error = await failureOf(s.open({ key: 'graph:AAMkAD-stall=', size: 0, seen: false }).then((stream) => digestStream(stream)));
      expect(error).toBeInstanceOf(InboundFailure);
      expect(error).toMatchObject({ phase: 'fetch', detailCode: 'ETIMEDOUT' });
      expect(error.message).toContain('graph:AAMkAD-stall=');
      expect(error.message).toContain('sent nothing for 1 s');
      expect(Date.now() - started).toBeLessThan(3000);
      expect((await digestStream(await s.open({ key: 'graph:AAMkAD-next=', size: 0, seen: false }))).sha256).toBe(sha256(next));
    });

    it('a download that only trickles (a byte inside every wait) is ended by its deadline, naming the message', async () => {
      graph.messages.clear();
      graph.messages.set('AAMkAD-drip=', { raw: big, isRead: false });
      hostile.set('AAMkAD-drip=', async (res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        for (let i = 0; i < 60 && !res.destroyed; i++) {
          res.write(big.subarray(i, i + 1));
          await sleep(250);
        }
        res.end();
      });
      const started = Date.now();
      const error = await failureOf(source({ deadlineBaseMs: 2000, minBytesPerSecond: 1024 * 1024, maxMessageBytes: 1024 * 1024 }).open({ key: 'graph:AAMkAD-drip=', size: 0, seen: false }).then((stream) => digestStream(stream)));
      expect(error).toBeInstanceOf(InboundFailure);
      expect(error).toMatchObject({ phase: 'fetch', detailCode: 'ETIMEDOUT' });
      expect(error.message).toMatch(/download of message graph:AAMkAD-drip= took longer than the [\d.]+ s allowed/);
      expect(Date.now() - started).toBeLessThan(10_000);
    });

    it('close() ends a download still running', async () => {
      graph.messages.clear();
      graph.messages.set('AAMkAD-held=', { raw: big, isRead: false });
      hostile.set('AAMkAD-held=', (res) => trickle(res, big, 200, 100));
      const s = source();
      const stream = await s.open({ key: 'graph:AAMkAD-held=', size: 0, seen: false });
      const reading = digestStream(stream);
      await sleep(300);
      await s.close();
      const error = await failureOf(reading);
      expect(error).toBeInstanceOf(InboundFailure);
      expect(error.message).toContain('graph:AAMkAD-held=');
    });
  });
});

/** A client-credentials token from the local OAuth server, as mailctl gets one. */
async function clientCredentialsToken(oauth: OAuthServer): Promise<string> {
  const response = await fetch(`${oauth.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'mailctl-app', client_secret: 'Hostile8Q~secret.value-0123456789abcdefABCDEF', scope: 'https://graph.microsoft.com/.default' }),
  });
  const body = (await response.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`no token from the local OAuth server: ${JSON.stringify(body)}`);
  return body.access_token;
}
