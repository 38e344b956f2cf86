import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphFixture } from '../../helpers/graph-fixture.js';
import { simpleMessage } from '../../helpers/messages.js';
import type { OAuthServer } from '../../helpers/oauth-server.js';
import { bySize } from '../../helpers/reliability-tier.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { graphKb, mb, runMeasured, startHostileGraph, startOAuth } from './graph-harness.js';

/**
 * Issue 14 item 5 (Graph): JSON answers were read whole (a 700 MB list → 830 MB of RSS). Now a
 * JSON answer is read up to 4 MB and refused past that with a clear error, whatever the
 * server sends; the daemon's peak RSS is measured against a normal poll's.
 */
/** The default cap on a JSON answer (README, "Graph"). */
const maxJsonBytes = 4 * 1024 * 1024;
const listBytes = bySize(700, 200) * 1024 * 1024;

/** A listing page of `bytes` of valid JSON, written as fast as the client reads it; stops when it goes away. */
async function hugeListPage(res: ServerResponse, bytes: number): Promise<number> {
  const item = '{"@odata.etag":"W/\\"CQAAABYAAAB1\\"","id":"AAMkADhugelistAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","isRead":false},';
  const chunk = Buffer.from(item.repeat(Math.floor(65536 / item.length)));
  res.writeHead(200, { 'content-type': 'application/json; odata.metadata=minimal' });
  let sent = 0;
  res.write('{"value":[');
  while (sent < bytes && !res.destroyed) {
    sent += chunk.length;
    if (!res.write(chunk)) await new Promise<void>((resolve) => { res.once('drain', resolve); res.once('close', resolve); });
  }
  res.end(`${item.slice(0, -1)}]}`);
  return sent;
}

describe(`Graph: a listing page of ${mb(listBytes)} MB is refused at ${mb(maxJsonBytes)} MB, with bounded memory`, () => {
  const tempDir = useTempDirs();
  let oauth: OAuthServer;
  let graph: GraphFixture;
  let huge = false;
  let served = 0;

  beforeAll(async () => {
    oauth = await startOAuth();
    graph = await startHostileGraph(oauth, async (req, res, url) => {
      // The daemon lists by delta query (issue 15): the saved deltaLink's answer is the huge one.
      if (!huge || req.method !== 'GET' || !url.pathname.endsWith('/mailFolders/inbox/messages/delta')) return false;
      served = await hugeListPage(res, listBytes);
      return true;
    });
  }, 60_000);
  afterAll(async () => {
    await graph?.close();
    await oauth?.close();
  });

  it('daemon --once fails the poll with "larger than 4 MB", its peak RSS close to a normal poll\'s; the next normal poll takes the mail', async () => {
    const kb = await graphKb(tempDir(), oauth, graph.baseUrl, 'mark-read');
    graph.messages.set('AAMkAD-1=', { raw: simpleMessage({ from: 'lee@partner.test', subject: 'one' }), isRead: false });

    // The baseline: the same process taking one small message.
    huge = false;
    const normal = await runMeasured(['daemon', '--once', '--json'], kb.env, 60_000);
    expect(normal.account, `${normal.stdout}\n${normal.stderr}`).toMatchObject({ status: 'ok', poll: { processed: 1 } });

    huge = true;
    const hostile = await runMeasured(['daemon', '--once', '--json'], kb.env, 60_000);
    console.info(`listing page of ${mb(listBytes)} MB: served ${mb(served)} MB before the client went away; peak RSS ${mb(hostile.peakRss)} MB (a normal poll: ${mb(normal.peakRss)} MB)`);
    expect(hostile.code, `${hostile.stdout}\n${hostile.stderr}`).toBe(1);
    expect(hostile.account?.status).toBe('failed');
    expect(hostile.account?.error).toMatch(/^Graph's answer to GET \/v1\.0\/users\/contracts%40acme\.test\/mailFolders\/inbox\/messages\/delta is larger than 4 MB \([\d.]+ MB read so far\): not read further/);
    expect(hostile.stderr).not.toMatch(/at .*\.js:\d+/); // a failure told, not a stack trace
    // Memory: the 4 MB read, not the page (today's code: hundreds of MB).
    expect(hostile.peakRss - normal.peakRss).toBeLessThan(64 * 1024 * 1024);
    expect(served).toBeLessThan(listBytes); // the rest was never even sent

    // The account is not stuck: once the server answers normally, its mail comes in.
    huge = false;
    graph.messages.set('AAMkAD-2=', { raw: simpleMessage({ from: 'lee@partner.test', subject: 'two' }), isRead: false });
    const after = await runMeasured(['daemon', '--once', '--json'], kb.env, 60_000);
    expect(after.account, `${after.stdout}\n${after.stderr}`).toMatchObject({ status: 'ok', poll: { listed: 2, processed: 1, alreadyTaken: 1 } });
  }, 120_000);
});
