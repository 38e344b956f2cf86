import { Readable } from 'node:stream';
import type { TokenProvider } from '../auth/token-provider.js';
import type { Clock } from '../clock.js';
import { listGraphDelta, type DeltaPage } from './graph-delta-listing.js';
import { graphNextLinkTarget } from './graph-next-link.js';
import { boundedBodyStream, HttpExchange, readBoundedBody } from './http-exchange.js';
import { InboundFailure, type InboundPhase } from './inbound-failure.js';
import type { AfterProcessing } from './inbound-config.js';
import type { AccountCheck, ChangeListingState, ListOptions, MailSource, MessageRef, ServerCheck } from './mail-source.js';

export interface GraphSourceOptions {
  /** e.g. https://graph.microsoft.com/v1.0 */
  baseUrl: string;
  mailbox: string;
  folder: string;
  afterProcessing: AfterProcessing;
  moveTo?: string | undefined;
  tokens: TokenProvider;
  timeoutMs: number;
  /** How long to wait at most for throttling (429/503 Retry-After) before giving up. */
  maxThrottleWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
  clock?: Clock;
  /** The bounds below (tests make them small). */
  limits?: Partial<GraphLimits>;
}

/**
 * What one Graph mailbox may cost, whatever its server sends. Each wait on the server is
 * bounded by `timeoutMs` (--timeout); each request by a deadline of
 * max(deadlineBaseMs, 3 × timeout) + its expected size at `minBytesPerSecond`, the expected
 * size being the declared Content-Length, or the most the answer may be when it declares
 * none (and never more): `maxJsonBytes` for a JSON answer (≈ 3 min), `maxMessageBytes`
 * for a message (≈ 81 min).
 */
export interface GraphLimits {
  /**
   * A JSON answer (a listing page, a folder) is read into memory up to this, then refused. A
   * page of 100 messages' id and isRead is ~20 KB; 4 MB of tiny items parse to ~25 MB of
   * objects, where 16 MB of them took the daemon to 436 MB.
   */
  maxJsonBytes: number;
  /** max_message_size (default 150 MB, Exchange Online's largest): the download's deadline; takeMessage stops a larger one there. */
  maxMessageBytes: number;
  deadlineBaseMs: number;
  minBytesPerSecond: number;
  /** Listing pages read per poll; the rest of the folder is listed next poll. */
  maxListPages: number;
  /** Messages listed per poll (the newest); the rest next poll. */
  maxListItems: number;
}

export const graphLimits: GraphLimits = {
  maxJsonBytes: 4 * 1024 * 1024,
  maxMessageBytes: 150 * 1024 * 1024,
  deadlineBaseMs: 60_000,
  minBytesPerSecond: 32 * 1024,
  maxListPages: 100,
  maxListItems: 10_000,
};

/** An error answer is shown, not kept: its first bytes are enough. */
const maxErrorBodyBytes = 64 * 1024;
/** Items asked per listing page (Graph's default is 10, its maximum for messages 1000). */
const pageSize = 100;
/** What a listing needs of each message: its id (always sent), its read mark, when it arrived. */
const listedFields = 'id,isRead,receivedDateTime';

interface GraphError { error?: { code?: string; message?: string } }

/**
 * A Microsoft Graph mailbox: /users/{address}/mailFolders/{folder}/messages (by delta query
 * when the poll gives a place to keep, listGraphDelta), the raw MIME from
 * /messages/{id}/$value as a stream, bearer token from the OAuth provider.
 * Throttling (429, 503 with Retry-After) is waited out up to a bound.
 */
export class GraphSource implements MailSource {
  readonly protocol = 'graph' as const;
  readonly #o: GraphSourceOptions;
  /** Requests whose answer is still being read: close() ends them. */
  readonly #running = new Set<HttpExchange>();
  /** Time spent waiting out throttling (429/503) in this source's poll: 60 s at most in all. */
  #throttleWaitedMs = 0;
  /** The delta's state given to list(): a message marked done is carried no more. */
  #changes: ChangeListingState | undefined;

  constructor(options: GraphSourceOptions) {
    this.#o = options;
  }

  async verifyServer(): Promise<ServerCheck> {
    // Any HTTP answer proves the API is reachable (without a token Graph answers 401).
    try {
      const response = await fetch(this.#o.baseUrl, { signal: AbortSignal.timeout(this.#o.timeoutMs) });
      await response.body?.cancel();
      return { greeting: `HTTP ${response.status} from ${new URL(this.#o.baseUrl).host}`, tls: this.#o.baseUrl.startsWith('https:') ? { protocol: 'TLS', authorized: true } : null, capabilities: [] };
    } catch (error) {
      throw networkFailure(error, 'connect');
    }
  }

  async verifyAccount(): Promise<AccountCheck> {
    const folder = await this.#json<{ displayName?: string; totalItemCount?: number; unreadItemCount?: number }>(
      'folder',
      `${this.#mailboxPath()}/mailFolders/${encodeURIComponent(this.#o.folder)}?$select=displayName,totalItemCount,unreadItemCount`,
    );
    return { folder: folder.displayName ?? this.#o.folder, messages: folder.totalItemCount ?? 0, unseen: folder.unreadItemCount ?? null };
  }

  /**
   * With `options.changes` (the daemon's polls): what the delta query says is new, and the
   * messages carried from earlier polls (listGraphDelta); `options.sweep` starts a new round,
   * which lists the whole folder.
   *
   * Without (a check, a test): the folder's messages, newest first as Graph pages them, at
   * most `maxListItems` from at most `maxListPages` pages, returned oldest first. A nextLink is
   * followed only to the configured origin (else an InboundFailure: the token is never sent
   * elsewhere); one that leads back to a page already read ends the listing there, with what
   * was listed (a server looping on its own link would otherwise be asked forever).
   */
  async list(options: ListOptions): Promise<MessageRef[]> {
    if (options.changes) {
      this.#changes = options.changes;
      const folder = `${this.#mailboxPath()}/mailFolders/${encodeURIComponent(this.#o.folder)}`;
      return listGraphDelta({
        // Ordered newest first, so that a first round longer than one poll's cap takes new mail first.
        firstUrl: new URL(`${folder}/messages/delta?$select=${listedFields}&$orderby=receivedDateTime%20desc`).href,
        baseUrl: this.#o.baseUrl,
        scope: [this.#o.baseUrl, this.#o.mailbox, this.#o.folder].join('\n'),
        state: options.changes,
        startOver: options.sweep === true,
        maxPages: this.#limits.maxListPages,
        maxItems: this.#limits.maxListItems,
        // Graph pages a delta by this header, not by $top (Microsoft Graph, "message: delta").
        page: (url) => this.#json<DeltaPage>('list', url, { prefer: `odata.maxpagesize=${pageSize}` }),
      });
    }
    // Graph ignores read marks (SPEC): every message in the folder is listed; ids tell them apart.
    // Newest first, so that a folder kept larger than the cap (mark-read, keep) never hides new mail.
    const limits = this.#limits;
    const refs: MessageRef[] = [];
    const keys = new Set<string>();
    const pagesRead = new Set<string>();
    let url: string | undefined = new URL(`${this.#mailboxPath()}/mailFolders/${encodeURIComponent(this.#o.folder)}/messages?$select=id,isRead&$top=${pageSize}&$orderby=receivedDateTime%20desc`).href;
    while (url && pagesRead.size < limits.maxListPages && refs.length < limits.maxListItems) {
      pagesRead.add(url);
      const page: { value?: unknown; '@odata.nextLink'?: unknown } = await this.#json('list', url);
      for (const m of Array.isArray(page.value) ? (page.value as Array<{ id?: unknown; isRead?: unknown }>) : []) {
        if (refs.length >= limits.maxListItems) break;
        if (typeof m?.id !== 'string' || keys.has(m.id)) continue; // a page shifted by new mail repeats an item
        keys.add(m.id);
        refs.push({ key: `graph:${m.id}`, size: 0, seen: typeof m.isRead === 'boolean' ? m.isRead : null });
      }
      const next = page['@odata.nextLink'];
      if (typeof next !== 'string') break;
      const target = graphNextLinkTarget(next, url, this.#o.baseUrl);
      url = pagesRead.has(target) ? undefined : target;
    }
    return refs.reverse();
  }

  /**
   * The raw MIME of a message, streamed. A failure of this one download (the idle limit, the
   * deadline, the network, an error answer) is an InboundFailure naming the message — phase
   * "fetch", or "auth" when the token was refused — and leaves the source usable for the next.
   */
  async open(ref: MessageRef): Promise<Readable> {
    const what = `download of message ${ref.key}`;
    const named = (error: unknown) => {
      const f = error instanceof InboundFailure ? error : networkFailure(error, 'fetch');
      const message = f.message.includes(ref.key) ? f.message : `Downloading message ${ref.key} from Graph failed: ${f.message}`;
      // Graph's answer about this one message (not found, refused as bad, too large) is the
      // message's own fault: counted against it, then quarantined. A token refused, throttling,
      // a 5xx, a stall or a deadline may be the server's: not counted unless other mail flows.
      const messageFault = f.phase !== 'auth' && (f.detailCode === 'E_GRAPH_TOO_LARGE' || (f.status !== undefined && f.status >= 400 && f.status < 500 && f.status !== 401 && f.status !== 403 && f.status !== 408 && f.status !== 429));
      return new InboundFailure('graph', f.phase === 'auth' ? 'auth' : 'fetch', message, { detailCode: f.detailCode, serverSaid: f.serverSaid, status: f.status, messageFault });
    };
    let sent: { response: Response; exchange: HttpExchange };
    try {
      sent = await this.#request('fetch', `${this.#mailboxPath()}/messages/${encodeURIComponent(idOf(ref))}/$value`, {}, { maxBytes: this.#limits.maxMessageBytes, what });
    } catch (error) {
      throw named(error);
    }
    const { response, exchange } = sent;
    if (!response.body) {
      exchange.finish();
      throw new InboundFailure('graph', 'fetch', `Graph returned no content for ${ref.key}.`, { messageFault: true });
    }
    return boundedBodyStream(response, exchange, (error) => named(this.#stopFailure(exchange, error, 'fetch', what)));
  }

  /**
   * Marks a message done as the account asks. One listed as read already is not marked again:
   * the PATCH would change it, and the next delta would list it (and cost a request) again.
   */
  async markDone(ref: MessageRef): Promise<void> {
    const path = `${this.#mailboxPath()}/messages/${encodeURIComponent(idOf(ref))}`;
    const { afterProcessing, moveTo } = this.#o;
    if (afterProcessing === 'mark-read' && ref.seen !== true) await this.#drain(await this.#request('mark', path, { method: 'PATCH', body: { isRead: true } }));
    else if (afterProcessing === 'move') await this.#drain(await this.#request('mark', `${path}/move`, { method: 'POST', body: { destinationId: moveTo ?? 'archive' } }));
    else if (afterProcessing === 'delete') await this.#drain(await this.#request('mark', path, { method: 'DELETE' }));
    this.#changes?.settle(ref.key);
  }

  leaveAsIs(ref: MessageRef): void {
    this.#changes?.settle(ref.key);
  }

  /**
   * Whether the folder a move goes to exists: Graph's move takes a folder id or a well-known
   * name (archive, deleteditems), which is exactly what /mailFolders/{x} answers for.
   */
  async folderExists(name: string): Promise<boolean> {
    try {
      await this.#drain(await this.#request('folder', `${this.#mailboxPath()}/mailFolders/${encodeURIComponent(name)}?$select=id`));
      return true;
    } catch (error) {
      if (error instanceof InboundFailure && error.status === 404) return false;
      throw error;
    }
  }

  /** Ends every request still running (a download the daemon gave up on). */
  async close(): Promise<void> {
    for (const exchange of [...this.#running]) exchange.stop('closed');
  }

  get #limits(): GraphLimits {
    return { ...graphLimits, ...this.#o.limits };
  }

  /** The deadline of a request whose answer is expected to be `bytes` long. */
  #deadlineMs(bytes: number): number {
    const l = this.#limits;
    return Math.max(l.deadlineBaseMs, 3 * this.#o.timeoutMs) + Math.ceil((bytes / l.minBytesPerSecond) * 1000);
  }

  /** The InboundFailure for an exchange that failed: ours when we stopped it, else the network's. */
  #stopFailure(exchange: HttpExchange, error: unknown, phase: InboundPhase, what: string): InboundFailure {
    if (error instanceof InboundFailure) return error;
    const secs = (ms: number) => `${Math.round(ms / 100) / 10} s`;
    if (exchange.stopped === 'idle') {
      return new InboundFailure('graph', phase, `Graph sent nothing for ${secs(this.#o.timeoutMs)} (--timeout) during the ${what}: stopped.`, { detailCode: 'ETIMEDOUT' });
    }
    if (exchange.stopped === 'deadline') {
      return new InboundFailure('graph', phase, `The ${what} took longer than the ${secs(exchange.deadlineMs)} allowed for its size (at least ${this.#limits.minBytesPerSecond / 1024} KB/s after the first ${secs(Math.max(this.#limits.deadlineBaseMs, 3 * this.#o.timeoutMs))}): stopped.`, { detailCode: 'ETIMEDOUT' });
    }
    if (exchange.stopped === 'closed') return new InboundFailure('graph', phase, `The ${what} was stopped: the mailbox was closed.`, { detailCode: 'ECANCELED' });
    return networkFailure(error, phase);
  }

  #mailboxPath(): string {
    return `${this.#o.baseUrl.replace(/\/$/, '')}/users/${encodeURIComponent(this.#o.mailbox)}`;
  }

  async #drain(sent: { response: Response; exchange: HttpExchange }): Promise<void> {
    sent.exchange.finish();
    await sent.response.body?.cancel().catch(() => undefined);
  }

  /** A JSON answer, read up to `maxJsonBytes` (past it: an InboundFailure, nothing more is read). */
  async #json<T>(phase: InboundPhase, url: string, options: { prefer?: string } = {}): Promise<T> {
    const max = this.#limits.maxJsonBytes;
    const what = `answer to GET ${pathOf(url)}`;
    const { response, exchange } = await this.#request(phase, url, options.prefer ? { headers: { prefer: options.prefer } } : {}, { maxBytes: max, what });
    const tooLarge = (size: string) => new InboundFailure('graph', phase, `Graph's ${what} is larger than ${mib(max)} (${size}): not read further. A Graph page is normally well under 1 MB; is the Graph URL right?`, { detailCode: 'E_GRAPH_TOO_LARGE' });
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (declared > max) {
      exchange.stop('too-large');
      throw tooLarge(`${mib(declared)} declared`);
    }
    let body: Buffer;
    try {
      body = await readBoundedBody(response, exchange, max, { onTooLarge: (received) => tooLarge(`${mib(received)} read so far`) });
    } catch (error) {
      throw this.#stopFailure(exchange, error, phase, what);
    }
    try {
      return JSON.parse(body.toString('utf8')) as T;
    } catch (error) {
      throw new InboundFailure('graph', phase, `Graph's ${what} is not JSON (${(error as Error).message}).`, { detailCode: 'E_GRAPH_NOT_JSON', serverSaid: body.subarray(0, 300).toString('utf8') });
    }
  }

  /**
   * One Graph call: bearer token, the idle limit on each wait, a deadline for the whole
   * exchange (from the answer's expected size, `maxBytes` at most), bounded waits on
   * throttling, errors with Graph's own code. The caller reads the body, under the same clocks.
   */
  async #request(phase: InboundPhase, url: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}, expect: { maxBytes: number; what: string } = { maxBytes: this.#limits.maxJsonBytes, what: `answer to ${init.method ?? 'GET'} ${pathOf(url)}` }): Promise<{ response: Response; exchange: HttpExchange }> {
    const sleep = this.#o.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
    const maxWait = this.#o.maxThrottleWaitMs ?? 60_000;
    let throttled = 0;
    for (;;) {
      const token = await this.#o.tokens.getToken();
      const exchange: HttpExchange = new HttpExchange({ idleMs: this.#o.timeoutMs, deadlineMs: this.#deadlineMs(expect.maxBytes), onEnd: () => this.#running.delete(exchange) });
      this.#running.add(exchange);
      let response: Response;
      try {
        // A redirect to another origin is followed without the Authorization header (fetch
        // drops it, WHATWG Fetch "HTTP-redirect fetch"), so only the nextLink needs our check.
        response = await exchange.wait(fetch(url, {
          method: init.method ?? 'GET',
          headers: { ...init.headers, authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
          ...(init.body ? { body: JSON.stringify(init.body) } : {}),
          signal: exchange.signal,
        }));
      } catch (error) {
        exchange.finish();
        throw this.#stopFailure(exchange, error, phase, expect.what);
      }
      if (response.ok) {
        const declared = Number(response.headers.get('content-length') ?? Number.NaN);
        if (Number.isFinite(declared) && declared >= 0 && declared < expect.maxBytes) exchange.setDeadline(this.#deadlineMs(declared));
        return { response, exchange };
      }
      if (response.status === 429 || response.status === 503) {
        // Retry-After as asked, but never less than 1, 2, 4, 8… s (a "Retry-After: 0" or a past
        // date made a tight loop of requests, each with the token), at most 6 times per request,
        // and 60 s of waiting in all for the source's poll (not per request: a 59 s wait on each
        // of 100 pages held the daemon for 100 minutes).
        const retryAfter = Math.max(retryAfterMs(response.headers.get('retry-after')), 1000 * 2 ** throttled);
        await this.#drain({ response, exchange });
        throttled++;
        if (throttled > maxThrottledAnswers || this.#throttleWaitedMs + retryAfter > maxWait) {
          throw new InboundFailure('graph', phase, `Graph is throttling this mailbox (HTTP ${response.status}): asked to wait ${Math.round(retryAfter / 1000)} s after ${throttled} throttled answer(s) and ${Math.round(this.#throttleWaitedMs / 1000)} s of waiting in this poll, more than allowed (60 s per poll); the rest is taken next poll.`, { status: response.status, detailCode: 'ApplicationThrottled' });
        }
        this.#throttleWaitedMs += retryAfter;
        await sleep(retryAfter);
        continue;
      }
      let text: string;
      try {
        text = (await readBoundedBody(response, exchange, maxErrorBodyBytes, { truncate: true })).toString('utf8');
      } catch (error) {
        throw this.#stopFailure(exchange, error, phase, expect.what);
      }
      let body: GraphError = {};
      try {
        body = JSON.parse(text) as GraphError;
      } catch {
        // not JSON: keep the text
      }
      const code = body.error?.code;
      const said = `${code ?? `HTTP ${response.status}`}: ${body.error?.message ?? text.slice(0, 300)}`;
      if (response.status === 401) {
        await this.#o.tokens.invalidate?.();
        throw new InboundFailure('graph', 'auth', `Graph refused the token (HTTP 401 ${said})`, { status: 401, detailCode: code ?? 'InvalidAuthenticationToken', serverSaid: `${init.method ?? 'GET'} ${url} ${response.status}: ${said}` });
      }
      const failedPhase = response.status === 403 ? 'auth' : response.status === 404 ? 'folder' : phase;
      throw new InboundFailure('graph', failedPhase, `Graph answered HTTP ${response.status} (${said})`, { status: response.status, detailCode: code, serverSaid: `${init.method ?? 'GET'} ${url} ${response.status}: ${said}` });
    }
  }
}

/** A URL's path, for messages: its query may be long and says nothing to an admin. */
function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url.slice(0, 200);
  }
}

const mib = (bytes: number) => `${Math.round((bytes / 1048576) * 10) / 10} MB`;

function idOf(ref: MessageRef): string {
  return ref.key.slice('graph:'.length);
}

/** Retry-After in seconds or as an HTTP date; 5 s when missing or unreadable. */
/** Throttled answers (429/503) one request may get before it fails. */
const maxThrottledAnswers = 6;

export function retryAfterMs(value: string | null, now = Date.now()): number {
  if (!value) return 5000;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? 5000 : Math.max(0, at - now);
}

function networkFailure(error: unknown, phase: InboundPhase): InboundFailure {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? (e.name === 'TimeoutError' ? 'ETIMEDOUT' : undefined);
  const tls = code !== undefined && /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|ALTNAME/.test(code);
  return new InboundFailure('graph', tls ? 'tls' : phase === 'connect' || code === 'ECONNREFUSED' || code === 'ENOTFOUND' ? 'connect' : phase, `${e.message}${e.cause?.message ? ` (${e.cause.message})` : ''}`, { detailCode: code });
}
