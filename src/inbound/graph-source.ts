import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { TokenProvider } from '../auth/token-provider.js';
import type { Clock } from '../clock.js';
import { InboundFailure, type InboundPhase } from './inbound-failure.js';
import type { AfterProcessing } from './inbound-config.js';
import type { AccountCheck, ListOptions, MailSource, MessageRef, ServerCheck } from './mail-source.js';

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
}

interface GraphError { error?: { code?: string; message?: string } }

/**
 * A Microsoft Graph mailbox: /users/{address}/mailFolders/{folder}/messages, the raw MIME
 * from /messages/{id}/$value as a stream, bearer token from the OAuth provider.
 * Throttling (429, 503 with Retry-After) is waited out up to a bound.
 */
export class GraphSource implements MailSource {
  readonly protocol = 'graph' as const;
  readonly #o: GraphSourceOptions;

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

  async list(_options: ListOptions): Promise<MessageRef[]> {
    // Graph ignores read marks (SPEC): every message in the folder is listed; ids tell them apart.
    const refs: MessageRef[] = [];
    let url: string | undefined = `${this.#mailboxPath()}/mailFolders/${encodeURIComponent(this.#o.folder)}/messages?$select=id,isRead&$top=100&$orderby=receivedDateTime%20asc`;
    while (url) {
      const page: { value?: Array<{ id: string; isRead?: boolean }>; '@odata.nextLink'?: string } = await this.#json('list', url);
      for (const m of page.value ?? []) refs.push({ key: `graph:${m.id}`, size: 0, seen: m.isRead ?? null });
      url = page['@odata.nextLink'];
    }
    return refs;
  }

  async open(ref: MessageRef): Promise<Readable> {
    const response = await this.#request('fetch', `${this.#mailboxPath()}/messages/${encodeURIComponent(idOf(ref))}/$value`);
    if (!response.body) throw new InboundFailure('graph', 'fetch', `Graph returned no content for ${ref.key}.`);
    return Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>);
  }

  async markDone(ref: MessageRef): Promise<void> {
    const path = `${this.#mailboxPath()}/messages/${encodeURIComponent(idOf(ref))}`;
    const { afterProcessing, moveTo } = this.#o;
    if (afterProcessing === 'mark-read') await this.#drain(await this.#request('mark', path, { method: 'PATCH', body: { isRead: true } }));
    else if (afterProcessing === 'move') await this.#drain(await this.#request('mark', `${path}/move`, { method: 'POST', body: { destinationId: moveTo ?? 'archive' } }));
    else if (afterProcessing === 'delete') await this.#drain(await this.#request('mark', path, { method: 'DELETE' }));
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

  async close(): Promise<void> {}

  #mailboxPath(): string {
    return `${this.#o.baseUrl.replace(/\/$/, '')}/users/${encodeURIComponent(this.#o.mailbox)}`;
  }

  async #drain(response: Response): Promise<void> {
    await response.body?.cancel();
  }

  async #json<T>(phase: InboundPhase, url: string): Promise<T> {
    const response = await this.#request(phase, url);
    return (await response.json()) as T;
  }

  /** One Graph call: bearer token, timeout, bounded waits on throttling, errors with Graph's own code. */
  async #request(phase: InboundPhase, url: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
    const sleep = this.#o.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
    let waited = 0;
    const maxWait = this.#o.maxThrottleWaitMs ?? 60_000;
    for (;;) {
      const token = await this.#o.tokens.getToken();
      let response: Response;
      try {
        response = await fetch(url, {
          method: init.method ?? 'GET',
          headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
          ...(init.body ? { body: JSON.stringify(init.body) } : {}),
          signal: AbortSignal.timeout(this.#o.timeoutMs),
        });
      } catch (error) {
        throw networkFailure(error, phase);
      }
      if (response.ok) return response;
      if (response.status === 429 || response.status === 503) {
        const retryAfter = retryAfterMs(response.headers.get('retry-after'));
        await response.body?.cancel();
        if (waited + retryAfter > maxWait) {
          throw new InboundFailure('graph', phase, `Graph is throttling this mailbox (HTTP ${response.status}) and asked to wait ${Math.round(retryAfter / 1000)} s more than allowed.`, { status: response.status, detailCode: 'ApplicationThrottled' });
        }
        waited += retryAfter;
        await sleep(retryAfter);
        continue;
      }
      const text = await response.text();
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

function idOf(ref: MessageRef): string {
  return ref.key.slice('graph:'.length);
}

/** Retry-After in seconds or as an HTTP date; 5 s when missing or unreadable. */
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
