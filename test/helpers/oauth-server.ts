import { createServer as createHttpsServer, type Server } from 'node:https';
import { PassThrough } from 'node:stream';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TestCert } from './tls-cert.js';

/** The clients the local identity provider knows, with their current secrets. */
export interface OAuthServerOptions {
  cert: TestCert;
  port: number;
  /** The confidential app (client credentials, refresh tokens): client id → valid secret. */
  confidentialClientId: string;
  clientSecret: string;
  /** The public app for delegated sign-in (device code). */
  publicClientId: string;
  /** Mailbox that client-credentials tokens act for (added as the email claim). */
  appMailbox: string;
  /** More confidential apps: client id → valid secret. */
  otherApps?: Record<string, string>;
  /** Access-token lifetime in seconds. */
  accessTokenTtl?: number;
}

export interface OAuthServer {
  issuer: string;
  port: number;
  /** Change the valid client secret (rotation): the old one stops working at once. */
  setClientSecret(secret: string): void;
  /** Revokes every token issued so far (a password change at the provider). */
  revokeAll(): Promise<void>;
  /** Completes a device-code sign-in as `accountId`, as a person in a browser would. */
  approveDeviceCode(userCode: string, accountId: string): Promise<void>;
  /** Asks the introspection endpoint about a token, as a resource server would. */
  introspect(token: string): Promise<{ active?: boolean; email?: string; aud?: string }>;
  /** Basic-auth URL of the introspection endpoint, for Dovecot's oauth2 passdb. */
  introspectionUrl: string;
  /** Plays the browser for an authorization-code sign-in: follows the redirects as `accountId` until the loopback redirect, which it calls. */
  driveBrowser(url: string, accountId: string): Promise<void>;
  /** How many token requests succeeded, by grant type. */
  grants: Record<string, number>;
  close(): Promise<void>;
}

/** oidc-provider's storage, in memory, so a test can revoke every token at once. */
class MemoryAdapter {
  static stores = new Map<string, Map<string, { payload: Record<string, unknown>; expiresAt?: number }>>();
  readonly #store: Map<string, { payload: Record<string, unknown>; expiresAt?: number }>;
  constructor(name: string) {
    const store = MemoryAdapter.stores.get(name) ?? new Map();
    MemoryAdapter.stores.set(name, store);
    this.#store = store;
  }
  async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number) {
    this.#store.set(id, { payload, ...(expiresIn ? { expiresAt: Date.now() + expiresIn * 1000 } : {}) });
  }
  async find(id: string) {
    const entry = this.#store.get(id);
    if (!entry || (entry.expiresAt && entry.expiresAt < Date.now())) return undefined;
    return entry.payload;
  }
  async findByUserCode(userCode: string) {
    for (const { payload } of this.#store.values()) if (payload.userCode === userCode) return payload;
    return undefined;
  }
  async findByUid(uid: string) {
    for (const { payload } of this.#store.values()) if (payload.uid === uid) return payload;
    return undefined;
  }
  async consume(id: string) {
    const entry = this.#store.get(id);
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }
  async destroy(id: string) {
    this.#store.delete(id);
  }
  async revokeByGrantId(grantId: string) {
    for (const [id, { payload }] of this.#store) if (payload.grantId === grantId) this.#store.delete(id);
  }
}

/**
 * A local OAuth 2.0 / OpenID provider (oidc-provider) over HTTPS on loopback, set up the
 * way msal-node and Dovecot need it (TESTING-NOTES.md): resource indicators so
 * "https://outlook.office365.com/.default" is granted, opaque tokens for introspection,
 * the mailbox address as a claim on client-credentials tokens, and msal's non-standard
 * device-code route and grant name rewritten to the standard ones.
 */
export async function startOAuthServer(options: OAuthServerOptions): Promise<OAuthServer> {
  const { default: Provider } = await import('oidc-provider');
  const issuer = `https://localhost:${options.port}`;
  const resources = ['https://outlook.office365.com', 'https://graph.microsoft.com'];
  const resourceScopes = (resource: string) =>
    resource === 'https://graph.microsoft.com'
      ? `${resource}/.default ${resource}/Mail.ReadWrite`
      : `${resource}/.default ${resource}/SMTP.Send ${resource}/IMAP.AccessAsUser.All ${resource}/POP.AccessAsUser.All`;
  // The provider knows the confidential client by a fixed internal secret; the front end
  // swaps in that secret only when the request carries the currently valid one, so a test
  // can rotate the secret and the old one stops working at once.
  let clientSecret = options.clientSecret;
  const internalSecret = 'internal-secret-0123456789abcdef0123456789abcdef';
  const grants: Record<string, number> = {};

  const introspectionClient = { client_id: 'dovecot', client_secret: 'dovecot-introspection-secret', grant_types: [], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic' };
  const otherApps = new Map(Object.entries(options.otherApps ?? {}));
  const clientsConfig = () => [
    ...[...otherApps.keys()].map((clientId) => ({
      client_id: clientId, client_secret: internalSecret, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_post',
    })),
    {
      client_id: options.confidentialClientId,
      client_secret: internalSecret,
      grant_types: ['client_credentials', 'refresh_token', 'authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code'],
      redirect_uris: ['http://localhost/callback'],
      token_endpoint_auth_method: 'client_secret_post',
    },
    {
      client_id: options.publicClientId,
      grant_types: ['refresh_token', 'authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code'],
      // Native app: loopback redirects match on any port (RFC 8252).
      redirect_uris: ['http://127.0.0.1/callback', 'http://localhost/callback', 'http://localhost'],
      application_type: 'native',
      token_endpoint_auth_method: 'none',
    },
    introspectionClient,
  ];

  const scopeOf = (ctx: { oidc: { params?: Record<string, unknown> } }) => String(ctx.oidc.params?.scope ?? '');
  const provider = new Provider(issuer, {
    clients: clientsConfig() as never,
    adapter: MemoryAdapter as never,
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    claims: { email: ['email'], profile: ['name'] },
    findAccount: (_ctx: unknown, id: string) => ({ accountId: id, claims: () => ({ sub: id, email: id, name: id }) }),
    ttl: { AccessToken: options.accessTokenTtl ?? 3600, ClientCredentials: options.accessTokenTtl ?? 3600, DeviceCode: 600, RefreshToken: 86_400, Grant: 86_400, Session: 86_400, Interaction: 600 },
    rotateRefreshToken: true,
    pkce: { required: () => false },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      deviceFlow: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (ctx: never) => {
          const scope = scopeOf(ctx);
          return resources.find((r) => scope.includes(r)) ?? undefined;
        },
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string) => {
          if (!resources.includes(resource)) throw new Error(`unknown resource ${resource}`);
          return { scope: resourceScopes(resource), accessTokenFormat: 'opaque', audience: resource };
        },
      },
    },
    extraTokenClaims: (_ctx: unknown, token: { kind: string; accountId?: string }) =>
      token.kind === 'ClientCredentials' ? { email: options.appMailbox, sub: options.appMailbox } : token.accountId ? { email: token.accountId } : undefined,
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
  } as never);
  provider.proxy = false;

  // Test-only interaction: sign in the account named in a cookie, consent to what was asked.
  provider.use(async (ctx: { path: string; method: string; req: IncomingMessage; res: ServerResponse; respond?: boolean; cookies: { get(n: string): string | undefined } }, next: () => Promise<void>) => {
    const m = /^\/interaction\/([^/]+)$/.exec(ctx.path);
    if (!m || ctx.method !== 'GET') return next();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const accountId = decodeURIComponent(ctx.cookies.get('test_account') ?? 'alice@acme.test');
    const grant = new provider.Grant({ accountId, clientId: String(details.params.client_id) });
    const missing = details.prompt.details as { missingOIDCScope?: string[]; missingResourceScopes?: Record<string, string[]> };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(' '));
    const grantId = await grant.save();
    ctx.respond = false;
    await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
  });
  provider.on('grant.success', (ctx: { oidc: { params?: Record<string, unknown> } }) => {
    const type = String(ctx.oidc.params?.grant_type ?? 'unknown');
    grants[type] = (grants[type] ?? 0) + 1;
  });

  const handler = provider.callback();
  const server: Server = createHttpsServer({ cert: options.cert.cert, key: options.cert.key }, (req, res) => {
    // msal-node asks for the device code at "<token endpoint minus /token>/devicecode" and
    // polls with grant_type=device_code; oidc-provider speaks the RFC 8628 names.
    const path = (req.url ?? '/').split('?')[0];
    const rewritePath = path === '/devicecode' ? `/device/auth${(req.url ?? '').slice(path!.length)}` : req.url;
    if (req.method !== 'POST' || (path !== '/token' && path !== '/devicecode')) {
      req.url = rewritePath;
      return void handler(req, res);
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks).toString('utf8');
      body = body.replace(/(^|&)grant_type=device_code(&|$)/, `$1grant_type=${encodeURIComponent('urn:ietf:params:oauth:grant-type:device_code')}$2`);
      const form = new URLSearchParams(body);
      const clientId = form.get('client_id') ?? '';
      const validSecret = clientId === options.confidentialClientId ? clientSecret : otherApps.get(clientId);
      if (validSecret !== undefined && form.has('client_secret')) {
        if (form.get('client_secret') === validSecret) form.set('client_secret', internalSecret);
        else form.set('client_secret', `wrong-${form.get('client_secret')!.length}`);
        body = form.toString();
      }
      const replay = Object.assign(new PassThrough(), {
        headers: { ...req.headers, 'content-length': String(Buffer.byteLength(body)) },
        method: req.method,
        url: rewritePath,
        httpVersion: req.httpVersion,
        socket: req.socket,
        connection: req.socket,
      });
      replay.end(body);
      void handler(replay as unknown as IncomingMessage, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port, '127.0.0.1', () => resolve()));

  const request = async (path: string, init: { method?: string; form?: Record<string, string>; cookies: Map<string, string> }) => {
    const response = await fetch(`${issuer}${path}`, {
      method: init.method ?? 'GET',
      redirect: 'manual',
      headers: {
        cookie: [...init.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(init.form ? { body: new URLSearchParams(init.form).toString() } : {}),
    });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const eq = pair!.indexOf('=');
      init.cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return { status: response.status, location: response.headers.get('location'), text: await response.text() };
  };
  const xsrfOf = (html: string) => /name="xsrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

  return {
    issuer,
    port: options.port,
    grants,
    introspectionUrl: `https://dovecot:dovecot-introspection-secret@127.0.0.1:${options.port}/token/introspection`,
    async introspect(token) {
      const response = await fetch(`${issuer}/token/introspection`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from('dovecot:dovecot-introspection-secret').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
      });
      return (await response.json()) as { active?: boolean; email?: string; aud?: string };
    },
    setClientSecret(secret) {
      clientSecret = secret;
    },
    async revokeAll() {
      for (const model of ['AccessToken', 'ClientCredentials', 'RefreshToken', 'Grant', 'DeviceCode']) MemoryAdapter.stores.get(model)?.clear();
    },
    async approveDeviceCode(userCode, accountId) {
      const cookies = new Map<string, string>([['test_account', encodeURIComponent(accountId)]]);
      const input = await request('/device', { cookies });
      const confirm = await request('/device', { method: 'POST', cookies, form: { xsrf: xsrfOf(input.text), user_code: userCode } });
      let step = await request('/device', { method: 'POST', cookies, form: { xsrf: xsrfOf(confirm.text), user_code: userCode, confirm: 'yes' } });
      for (let hops = 0; step.location && hops < 10; hops++) {
        const next = new URL(step.location, issuer);
        step = await request(`${next.pathname}${next.search}`, { cookies });
      }
      if (!/success|Sign-in Success|connected/i.test(step.text) && step.status !== 200) throw new Error(`device sign-in did not complete (HTTP ${step.status}): ${step.text.slice(0, 300)}`);
    },
    async driveBrowser(url, accountId) {
      const cookies = new Map<string, string>([['test_account', encodeURIComponent(accountId)]]);
      let next = new URL(url);
      for (let hops = 0; hops < 10; hops++) {
        if (next.origin !== issuer) {
          // The loopback redirect back to mailctl (http://127.0.0.1:PORT/… or http://localhost:PORT/…).
          const done = await fetch(next);
          await done.text();
          return;
        }
        const step = await request(`${next.pathname}${next.search}`, { cookies });
        const form = /<form method="post" action="([^"]+)">/.exec(step.text);
        if (!step.location && form) {
          // response_mode=form_post (msal-node): the browser posts the code to the loopback listener.
          const fields = Object.fromEntries([...step.text.matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
          const posted = await fetch(form[1]!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
          await posted.text();
          return;
        }
        if (!step.location) throw new Error(`the sign-in stopped at ${next.pathname} (HTTP ${step.status}): ${step.text.replace(/<style[\s\S]*?<\/style>/, "").slice(0, 1500)}`);
        next = new URL(step.location, issuer);
      }
      throw new Error('too many redirects during the browser sign-in');
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

