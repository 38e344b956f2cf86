import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphNextLinkTarget } from '../../../src/inbound/graph-next-link.js';
import { InboundFailure } from '../../../src/inbound/inbound-failure.js';
import type { GraphFixture } from '../../helpers/graph-fixture.js';
import { simpleMessage } from '../../helpers/messages.js';
import type { OAuthServer } from '../../helpers/oauth-server.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { graphKb, mailbox, runMeasured, startHostileGraph, startOAuth } from './graph-harness.js';

/**
 * Issue 14 items 5 and 6 (Graph): an `@odata.nextLink` pointing back to itself made 2,588
 * requests and never ended; a nextLink to another origin over plain http received the bearer
 * token. Now a repeated page ends the listing, pages and items per poll are capped, and a
 * nextLink is followed only to the configured origin (else a clear failure, no token sent).
 */
/** The default cap on listing pages per poll (README, "Graph"). */
const maxListPages = 100;

type ListAnswer = (page: URL, host: string) => { value: Array<{ id: string; isRead: boolean }>; '@odata.nextLink'?: string };

describe('Graph nextLinks: bounded, and only to the configured origin', () => {
  const tempDir = useTempDirs();
  let oauth: OAuthServer;
  let graph: GraphFixture;
  /** The listing the hostile server gives (the fixture's own when unset). */
  let listAnswer: ListAnswer | undefined;
  let listRequests = 0;
  /** Another server, elsewhere on the machine: it records every Authorization header it gets. */
  let other: Server;
  let otherPort = 0;
  const otherAuthorizations: string[] = [];
  let otherRequests = 0;

  beforeAll(async () => {
    oauth = await startOAuth();
    graph = await startHostileGraph(oauth, (req, res, url) => {
      // The daemon lists by delta query (issue 15): its pages carry nextLinks as a listing's do.
      if (!listAnswer || req.method !== 'GET' || !url.pathname.endsWith('/mailFolders/inbox/messages/delta')) return false;
      listRequests++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(listAnswer(url, req.headers.host ?? '')));
      return true;
    });
    other = createServer((req, res) => {
      otherRequests++;
      if (req.headers.authorization) otherAuthorizations.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ value: [{ id: 'AAMkAD-elsewhere=', isRead: false }] }));
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', () => resolve()));
    otherPort = (other.address() as { port: number }).port;
  }, 60_000);
  afterAll(async () => {
    await new Promise<void>((resolve) => (other ? other.close(() => resolve()) : resolve()));
    await graph?.close();
    await oauth?.close();
  });

  const pollWith = async (answer: ListAnswer) => {
    graph.messages.clear();
    graph.messages.set('AAMkAD-1=', { raw: simpleMessage({ from: 'lee@partner.test', subject: 'listed once' }), isRead: false });
    listAnswer = answer;
    listRequests = 0;
    const kb = await graphKb(tempDir(), oauth, graph.baseUrl);
    // Today's code never ended these: killed after 20 s, the run shows as code -1.
    return runMeasured(['daemon', '--once', '--timeout', '5s', '--json'], kb.env, 20_000);
  };

  it('a nextLink that points back to its own page: the listing ends after that page, and the message is taken', async () => {
    const run = await pollWith((page, host) => ({ value: [{ id: 'AAMkAD-1=', isRead: false }], '@odata.nextLink': `http://${host}${page.pathname}${page.search}` }));
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.account).toMatchObject({ status: 'ok', poll: { listed: 1, processed: 1 } });
    expect(listRequests).toBe(1);
  });

  it(`endless new nextLinks: at most ${maxListPages} pages are read per poll, and the poll ends`, async () => {
    const run = await pollWith((page, host) => {
      const next = new URL(`http://${host}${page.pathname}${page.search}`);
      next.searchParams.set('$skiptoken', String(Number(next.searchParams.get('$skiptoken') ?? '0') + 1));
      return { value: [{ id: 'AAMkAD-1=', isRead: false }], '@odata.nextLink': next.href };
    });
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.account).toMatchObject({ status: 'ok', poll: { listed: 1, processed: 1 } }); // a repeated item is listed once
    expect(listRequests).toBe(maxListPages);
  });

  it('a nextLink to another origin over plain http: refused with a clear failure, and the token never reaches it', async () => {
    const run = await pollWith((page) => ({ value: [{ id: 'AAMkAD-1=', isRead: false }], '@odata.nextLink': `http://127.0.0.1:${otherPort}${page.pathname}?$skip=1` }));
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(1);
    expect(run.account?.status).toBe('failed');
    expect(run.account?.error).toContain(`leads to http://127.0.0.1:${otherPort}, not to the configured Graph origin ${new URL(graph.baseUrl).origin}`);
    expect(run.account?.error).toContain('the token was not sent there');
    expect(otherAuthorizations).toEqual([]);
    expect(otherRequests).toBe(0);
    // The real Graph got the token all along: it is only the other origin that never saw it.
    expect(graph.authorizations.some((a) => a.startsWith('Bearer '))).toBe(true);
  });

  it('the origin rule: scheme, host and port of the configured base URL; nothing else', () => {
    const base = 'https://graph.microsoft.com/v1.0';
    const page = `${base}/users/${mailbox}/mailFolders/inbox/messages?$top=100`;
    const refused = (link: string) => {
      let error: unknown;
      try {
        graphNextLinkTarget(link, page, base);
      } catch (e) {
        error = e;
      }
      expect(error, link).toBeInstanceOf(InboundFailure);
      expect((error as InboundFailure).phase).toBe('list');
      return (error as InboundFailure).message;
    };
    expect(graphNextLinkTarget(`${base}/users/${mailbox}/mailFolders/inbox/messages?%24skip=100`, page, base)).toBe(`${base}/users/${mailbox}/mailFolders/inbox/messages?%24skip=100`);
    expect(graphNextLinkTarget('messages?$skip=100', page, base)).toBe(`${base}/users/${mailbox}/mailFolders/inbox/messages?$skip=100`);
    expect(refused('http://graph.microsoft.com/v1.0/users/x/messages?$skip=100')).toContain('leads to http://graph.microsoft.com, not to the configured Graph origin https://graph.microsoft.com');
    expect(refused('https://graph.microsoft.com.evil.test/v1.0/users/x/messages')).toContain('graph.microsoft.com.evil.test');
    refused('https://graph.microsoft.com:8443/v1.0/users/x/messages');
    refused('https://user:pw@graph.microsoft.com/v1.0/users/x/messages');
    refused('//evil.test/v1.0/users/x/messages');
    // A deltaLink is kept for the next poll: the same rule, and it is neither called nor kept.
    let deltaError: unknown;
    try {
      graphNextLinkTarget('http://graph.microsoft.com/v1.0/users/x/messages/delta?$deltatoken=1', page, base, '@odata.deltaLink');
    } catch (e) {
      deltaError = e;
    }
    expect((deltaError as InboundFailure).message).toContain("Graph's @odata.deltaLink leads to http://graph.microsoft.com, not to the configured Graph origin https://graph.microsoft.com: it was not followed nor kept");
  });
});
