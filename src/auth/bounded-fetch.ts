import { OAuthFailure } from './oauth-failure.js';

/** Limits on one identity-provider request (token, discovery, device code). */
export interface OAuthHttpLimits {
  /** Longest wait for the answer's head or its next piece (ms): the command's --timeout. */
  waitMs: number;
  /** Longest the whole request may take, however it trickles (ms). */
  overallMs: number;
  /** Most body bytes read; a token answer is a few KB, discovery some tens of KB. */
  maxBytes: number;
}

/** A token answer larger than this is not a token answer. */
export const oauthMaxBodyBytes = 1024 * 1024;

/** The limits for a command's --timeout (default 30 s): each wait, and four of them in all. */
export function oauthLimits(timeoutMs = 30_000): OAuthHttpLimits {
  return { waitMs: timeoutMs, overallMs: timeoutMs * 4, maxBytes: oauthMaxBodyBytes };
}

/**
 * fetch, but the body is read here, at most `maxBytes`, each wait bounded by `waitMs` and the
 * whole request by `overallMs`; the answer comes back as a fully-read Response. Neither
 * openid-client (its own fixed 30 s, no size limit) nor msal-node (response.json() without a
 * limit) bounds a hostile token endpoint that never ends its JSON.
 * Throws OAuthFailure "timeout" or "response_too_large", or "network_error" from fetch.
 */
export async function boundedFetch(url: string | URL, init: RequestInit, limits: OAuthHttpLimits): Promise<Response> {
  const controller = new AbortController();
  let failure: OAuthFailure | undefined;
  const fail = (f: OAuthFailure): void => { failure ??= f; controller.abort(); };
  const host = new URL(url).host;
  const overall = setTimeout(() => fail(new OAuthFailure('timeout', `the identity provider at ${host} took more than ${Math.round(limits.overallMs / 1000)} s to answer`)), limits.overallMs);
  let wait: NodeJS.Timeout | undefined;
  const armWait = (what: string): void => {
    clearTimeout(wait);
    wait = setTimeout(() => fail(new OAuthFailure('timeout', `the identity provider at ${host} sent nothing for ${Math.round(limits.waitMs / 1000)} s (${what})`)), limits.waitMs);
  };
  // Callers (openid-client) may pass their own signal; either one ends the request.
  const outer = init.signal;
  if (outer) outer.addEventListener('abort', () => controller.abort(), { once: true });
  try {
    armWait('waiting for the answer');
    const response = await fetch(url, { ...init, signal: controller.signal });
    const declared = Number(response.headers.get('content-length'));
    if (declared > limits.maxBytes) {
      throw new OAuthFailure('response_too_large', `the identity provider at ${host} announced a ${declared}-byte answer (more than ${limits.maxBytes} bytes is not a token answer)`);
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    if (response.body) {
      const reader = response.body.getReader();
      try {
        for (;;) {
          armWait('in the middle of its answer');
          const { done, value } = await reader.read();
          if (done) break;
          total += value.byteLength;
          if (total > limits.maxBytes) throw new OAuthFailure('response_too_large', `the identity provider at ${host} sent more than ${limits.maxBytes} bytes (not a token answer)`);
          chunks.push(value);
        }
      } finally {
        reader.cancel().catch(() => {});
      }
    }
    const body = response.status === 204 || response.status === 304 ? null : Buffer.concat(chunks);
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  } catch (error) {
    if (failure) throw failure;
    throw error instanceof OAuthFailure ? error : OAuthFailure.from(error);
  } finally {
    clearTimeout(wait);
    clearTimeout(overall);
  }
}

type MsalNetworkResponse<T> = { headers: Record<string, string>; body: T; status: number };

/** msal-node's INetworkModule over boundedFetch (msal's own client reads any size with no timeout on POST). */
export function msalNetworkClient(limits: OAuthHttpLimits): {
  /** What failed last, in our words: msal replaces a failed discovery with "endpoints_resolution_error". */
  failure: OAuthFailure | undefined;
  sendGetRequestAsync<T>(url: string, options?: { headers?: Record<string, string> }): Promise<MsalNetworkResponse<T>>;
  sendPostRequestAsync<T>(url: string, options?: { headers?: Record<string, string>; body?: string }): Promise<MsalNetworkResponse<T>>;
} {
  const client = {
    failure: undefined as OAuthFailure | undefined,
    sendGetRequestAsync: <T>(url: string, options?: { headers?: Record<string, string> }) => send<T>(url, 'GET', options),
    sendPostRequestAsync: <T>(url: string, options?: { headers?: Record<string, string>; body?: string }) => send<T>(url, 'POST', options),
  };
  const send = async <T>(url: string, method: 'GET' | 'POST', options?: { headers?: Record<string, string>; body?: string }): Promise<MsalNetworkResponse<T>> => {
    try {
      return await sendOnce<T>(url, method, options);
    } catch (error) {
      client.failure = OAuthFailure.from(error);
      throw client.failure;
    }
  };
  const sendOnce = async <T>(url: string, method: 'GET' | 'POST', options?: { headers?: Record<string, string>; body?: string }): Promise<MsalNetworkResponse<T>> => {
    const response = await boundedFetch(url, { method, headers: options?.headers ?? {}, ...(method === 'POST' ? { body: options?.body ?? '' } : {}) }, limits);
    const headers: Record<string, string> = {};
    response.headers.forEach((value, key) => { headers[key] = value; });
    const text = await response.text();
    let body: T;
    try {
      body = JSON.parse(text) as T;
    } catch {
      throw new OAuthFailure('oauth_error', `the identity provider at ${new URL(url).host} answered HTTP ${response.status} with something that is not JSON`);
    }
    return { headers, body, status: response.status };
  };
  return client;
}
