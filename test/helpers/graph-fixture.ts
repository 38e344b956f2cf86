import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/**
 * A stand-in for the Microsoft Graph mail endpoints mailctl uses, with Microsoft's exact
 * error bodies (Graph itself cannot run here). Only what mailctl calls is answered.
 */
export interface GraphFixture {
  baseUrl: string;
  /** Messages per mailbox folder: id → raw MIME (a Buffer is served byte for byte). */
  messages: Map<string, { raw: string | Buffer; isRead: boolean }>;
  requests: string[];
  /** Every request's Authorization header, in order (a token must go nowhere else). */
  authorizations: string[];
  /** Answer the next N requests with 429 Retry-After: seconds. */
  throttle(times: number, retryAfterSeconds: number): void;
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

export async function startGraphFixture(options: { token: string; mailbox: string; deniedMailbox?: string; pageSize?: number; validate?: (token: string) => Promise<boolean>; folders?: string[]; intercept?: GraphIntercept }): Promise<GraphFixture> {
  const messages = new Map<string, { raw: string | Buffer; isRead: boolean }>();
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
      const folder = /^mailFolders\/([^/]+)(\/messages)?$/.exec(rest);
      if (folder) {
        const name = decodeURIComponent(folder[1]!);
        if (!folder[2] && (options.folders ?? []).includes(name)) return send(res, 200, { id: name, displayName: name });
        if (name.toLowerCase() !== 'inbox') return send(res, 404, graphErrors.itemNotFound);
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
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
