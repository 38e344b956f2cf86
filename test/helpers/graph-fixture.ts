import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/**
 * A stand-in for the Microsoft Graph mail endpoints mailctl uses, with Microsoft's exact
 * error bodies (Graph itself cannot run here). Only what mailctl calls is answered.
 *
 * The delta query (`…/mailFolders/inbox/messages/delta`) behaves as Graph's: a round without a
 * token lists every message in the folder, in pages of `Prefer: odata.maxpagesize` (at most
 * `maxDeltaPageSize`), each page but the last with an @odata.nextLink ($skiptoken), the last
 * with an @odata.deltaLink ($deltatoken); calling that link lists what changed since — messages
 * added or changed (a PATCH of isRead too), and `@removed` entries for those deleted or moved
 * away. Tokens are opaque state; expireDeltaTokens() makes every token issued so far answer 410
 * Gone, as Graph does when its token cache dropped one.
 */
export interface GraphFixture {
  baseUrl: string;
  /**
   * Messages per mailbox folder: id → raw MIME (a Buffer is served byte for byte). Adding,
   * replacing and deleting are changes the delta lists (changing `isRead` in place is not).
   */
  messages: Map<string, { raw: string | Buffer; isRead: boolean }>;
  /** Every request as "METHOD /path?query" (query decoded), in order: a test counts a poll's. */
  requests: string[];
  /** Every request's Authorization header, in order (a token must go nowhere else). */
  authorizations: string[];
  /** Answer the next N requests with 429 Retry-After: seconds. */
  throttle(times: number, retryAfterSeconds: number): void;
  /** Every delta token issued so far answers 410 Gone from now on (a new round starts afresh). */
  expireDeltaTokens(): void;
  close(): Promise<void>;
}

export const graphErrors = {
  accessDenied: { error: { code: 'ErrorAccessDenied', message: 'Access is denied. Check credentials and try again.' } },
  invalidToken: { error: { code: 'InvalidAuthenticationToken', message: 'Access token has expired or is not yet valid.', innerError: { date: '2026-11-27T10:00:00', 'request-id': 'f0e1d2c3-0000-4000-8000-000000000000' } } },
  itemNotFound: { error: { code: 'ErrorItemNotFound', message: 'The specified object was not found in the store.' } },
  throttled: { error: { code: 'ApplicationThrottled', message: 'Application is over its MailboxConcurrency limit.' } },
};

/**
 * `folders`: folders besides the inbox, by id or well-known name (as Graph's move takes them),
 * answered by GET mailFolders/{x} and accepted as a move's destinationId.
 */
/**
 * `intercept`: a hostile server's own answer to an authorised request (a trickled download, a
 * nextLink elsewhere, an endless page); return true when it answered, false to let the fixture.
 */
export type GraphIntercept = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;

type Item = { raw: string | Buffer; isRead: boolean };

/** The folder's messages, with what the delta needs: a change counter, creation order, deletions. */
class TrackedMessages extends Map<string, Item> {
  /** The last change's number; a delta token is "changes after N". */
  seq = 0;
  readonly changedAt = new Map<string, number>();
  readonly createdAt = new Map<string, number>();
  readonly removedAt = new Map<string, number>();

  override set(id: string, item: Item): this {
    super.set(id, item);
    this.seq++;
    if (!this.createdAt.has(id) || this.removedAt.has(id)) this.createdAt.set(id, this.seq);
    this.removedAt.delete(id);
    this.changedAt.set(id, this.seq);
    return this;
  }

  override delete(id: string): boolean {
    if (!super.delete(id)) return false;
    this.seq++;
    this.removedAt.set(id, this.seq);
    this.changedAt.delete(id);
    return true;
  }

  override clear(): void {
    for (const id of [...this.keys()]) this.delete(id);
  }

  /** A change made through the API (a PATCH). */
  touch(id: string): void {
    this.seq++;
    this.changedAt.set(id, this.seq);
  }
}

/** Graph's answer to a token it no longer has (a 410, body as Outlook's delta sends it). */
export const syncStateNotFound = { error: { code: 'SyncStateNotFound', message: 'The sync state generation is not found. The delta token is expired and data must be synchronized again.' } };

export async function startGraphFixture(options: { token: string; mailbox: string; deniedMailbox?: string; pageSize?: number; maxDeltaPageSize?: number; validate?: (token: string) => Promise<boolean>; folders?: string[]; intercept?: GraphIntercept }): Promise<GraphFixture> {
  const messages = new TrackedMessages();
  /** Tokens carry the generation they were issued in; expireDeltaTokens() moves it on. */
  let generation = 1;
  const requests: string[] = [];
  const authorizations: string[] = [];
  let throttleLeft = 0;
  let throttleSeconds = 1;
  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fixture');
    requests.push(`${req.method} ${url.pathname}${decodeURIComponent(url.search)}`);
    authorizations.push(req.headers.authorization ?? '');
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', async () => {
      if (url.pathname === '/v1.0' || url.pathname === '/v1.0/') return send(res, 401, graphErrors.invalidToken);
      const bearer = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      const valid = options.validate ? await options.validate(bearer) : bearer === options.token;
      if (!valid) return send(res, 401, graphErrors.invalidToken);
      if (throttleLeft > 0) {
        throttleLeft--;
        return send(res, 429, graphErrors.throttled, { 'retry-after': String(throttleSeconds) });
      }
      const m = /^\/v1\.0\/users\/([^/]+)\/(.*)$/.exec(url.pathname);
      if (!m) return send(res, 404, { error: { code: 'BadRequest', message: 'Resource not found for the segment.' } });
      const mailbox = decodeURIComponent(m[1]!);
      const rest = m[2]!;
      if (mailbox === options.deniedMailbox) return send(res, 403, graphErrors.accessDenied);
      if (mailbox !== options.mailbox) return send(res, 404, { error: { code: 'ErrorInvalidUser', message: `The requested user '${mailbox}' is invalid.` } });
      if (options.intercept && (await options.intercept(req, res, url))) return;
      const folder = /^mailFolders\/([^/]+)(\/messages)?(\/delta)?$/.exec(rest);
      if (folder) {
        const name = decodeURIComponent(folder[1]!);
        if (!folder[2] && (options.folders ?? []).includes(name)) return send(res, 200, { id: name, displayName: name });
        if (name.toLowerCase() !== 'inbox') return send(res, 404, graphErrors.itemNotFound);
        if (folder[3]) return delta(req, res, url);
        if (!folder[2]) return send(res, 200, { displayName: 'Inbox', totalItemCount: messages.size, unreadItemCount: [...messages.values()].filter((x) => !x.isRead).length });
        // Messages are received in the order they were added; Graph pages newest first by default.
        const ids = [...messages.keys()];
        if (!/receivedDateTime asc/i.test(url.searchParams.get('$orderby') ?? '')) ids.reverse();
        const skip = Number(url.searchParams.get('$skip') ?? '0');
        const size = options.pageSize ?? 2;
        const page = ids.slice(skip, skip + size).map((id) => ({ id, isRead: messages.get(id)!.isRead }));
        // As Graph's: the same query, with $skip moved on.
        const nextUrl = new URL(url.pathname + url.search, `http://${req.headers.host}`);
        nextUrl.searchParams.set('$skip', String(skip + size));
        const next = skip + size < ids.length ? nextUrl.href : undefined;
        return send(res, 200, { value: page, ...(next ? { '@odata.nextLink': next } : {}) });
      }
      const message = /^messages\/([^/]+)(\/\$value|\/move)?$/.exec(rest);
      if (message) {
        const id = decodeURIComponent(message[1]!);
        const item = messages.get(id);
        if (!item) return send(res, 404, graphErrors.itemNotFound);
        if (message[2] === '/$value') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          return res.end(item.raw);
        }
        if (req.method === 'PATCH') {
          item.isRead = Boolean((JSON.parse(body) as { isRead?: boolean }).isRead);
          messages.touch(id);
          return send(res, 200, { id, isRead: item.isRead });
        }
        if (message[2] === '/move' && req.method === 'POST') {
          const destination = (JSON.parse(body) as { destinationId?: string }).destinationId ?? '';
          if (!(options.folders ?? []).includes(destination)) return send(res, 404, graphErrors.itemNotFound);
          messages.delete(id);
          return send(res, 201, { id: `${id}-moved` });
        }
        if (req.method === 'DELETE') {
          messages.delete(id);
          res.writeHead(204);
          return res.end();
        }
      }
      return send(res, 400, { error: { code: 'BadRequest', message: 'Unsupported request.' } });
    });
  });
  /**
   * One page of a delta round. A token says which changes the round covers — those after
   * `since` up to `upto` (the counter when the round began; later changes are the next round's)
   * — and, in a $skiptoken, the last message sent by creation order, so a message changed
   * mid-round is neither skipped nor sent twice in the round.
   */
  function delta(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const skip = url.searchParams.get('$skiptoken');
    const deltaToken = url.searchParams.get('$deltatoken');
    const token = skip ?? deltaToken;
    let round: { since: number; upto: number; after: number | null; desc: boolean };
    if (token === null) {
      round = { since: 0, upto: messages.seq, after: null, desc: /receivedDateTime desc/i.test(url.searchParams.get('$orderby') ?? '') };
    } else {
      const m = /^g(\d+)\.(\d+)\.(\d+)\.(\d+|-)\.([ad])$/.exec(token);
      if (!m || Number(m[1]) !== generation) return send(res, 410, syncStateNotFound);
      round = skip !== null
        ? { since: Number(m[2]), upto: Number(m[3]), after: m[4] === '-' ? null : Number(m[4]), desc: m[5] === 'd' }
        : { since: Number(m[3]), upto: messages.seq, after: null, desc: m[5] === 'd' };
    }
    const { since, upto, after, desc } = round;
    const inRound = (at: number | undefined) => at !== undefined && at > since && at <= upto;
    const changed = [...messages.createdAt.keys()].filter((id) => inRound(messages.changedAt.get(id)) || (since > 0 && inRound(messages.removedAt.get(id))));
    const order = (id: string) => messages.createdAt.get(id)!;
    changed.sort((a, b) => (desc ? order(b) - order(a) : order(a) - order(b)));
    const left = after === null ? changed : changed.filter((id) => (desc ? order(id) < after : order(id) > after));
    const prefer = /odata\.maxpagesize=(\d+)/.exec(String(req.headers.prefer ?? ''))?.[1];
    const size = Math.min(Number(prefer ?? 10), options.maxDeltaPageSize ?? 1000);
    const page = left.slice(0, size);
    const start = Date.UTC(2026, 10, 27, 9, 0, 0);
    const value = page.map((id) => {
      const item = messages.get(id);
      if (!item) return { '@odata.type': '#microsoft.graph.message', id, '@removed': { reason: 'deleted' } };
      return { '@odata.type': '#microsoft.graph.message', '@odata.etag': `W/"${messages.changedAt.get(id)}"`, id, isRead: item.isRead, receivedDateTime: new Date(start + order(id) * 1000).toISOString().replace('.000Z', 'Z') };
    });
    const link = (param: string, value: string) => `http://${req.headers.host}${url.pathname}?${param}=${value}`;
    const dir = desc ? 'd' : 'a';
    if (left.length > page.length) {
      return send(res, 200, { value, '@odata.nextLink': link('$skiptoken', `g${generation}.${since}.${upto}.${order(page.at(-1)!)}.${dir}`) });
    }
    return send(res, 200, { value, '@odata.deltaLink': link('$deltatoken', `g${generation}.0.${upto}.-.${dir}`) });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1.0`,
    messages,
    requests,
    authorizations,
    throttle(times, seconds) {
      throttleLeft = times;
      throttleSeconds = seconds;
    },
    expireDeltaTokens() {
      generation++;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
