import { createServer } from 'node:http';
import type { Configuration } from 'openid-client';
import { boundedFetch, oauthLimits, type OAuthHttpLimits } from './bounded-fetch.js';
import { OAuthFailure } from './oauth-failure.js';
import type { OAuthSettings } from './oauth-settings.js';
import type { SignInPrompt, TokenResult } from './token-result.js';

const googleIssuer = 'https://accounts.google.com';

/**
 * openid-client's configuration: discovery from the issuer, or just a token URL for "generic".
 * Every request it makes (discovery, token, device code) goes through boundedFetch.
 */
async function configure(settings: OAuthSettings, clientSecret: string | undefined, limits: OAuthHttpLimits): Promise<Configuration> {
  const oidc = await import('openid-client');
  const auth = clientSecret ? oidc.ClientSecretPost(clientSecret) : oidc.None();
  const metadata = clientSecret ? { client_secret: clientSecret } : {};
  const fetchBounded = (url: string, options: RequestInit): Promise<Response> => boundedFetch(url, options, limits);
  // openid-client's own timeout (seconds) stays behind ours, so ours, with its clearer words, fires first.
  const timeout = Math.ceil(limits.overallMs / 1000) + 5;
  try {
    if (settings.provider === 'generic' && settings.tokenUrl && !settings.authorityUrl) {
      const tokenUrl = new URL(settings.tokenUrl);
      const config = new oidc.Configuration({ issuer: tokenUrl.origin, token_endpoint: tokenUrl.href }, settings.clientId, metadata, auth);
      config[oidc.customFetch] = fetchBounded as never;
      config.timeout = timeout;
      return config;
    }
    const issuer = settings.authorityUrl ?? (settings.provider === 'google' ? googleIssuer : undefined);
    if (!issuer) throw new OAuthFailure('invalid_request', 'the generic provider needs a token URL (--token-url) or an issuer (--authority)');
    return await oidc.discovery(new URL(issuer), settings.clientId, metadata, auth, { [oidc.customFetch]: fetchBounded as never, timeout });
  } catch (error) {
    throw OAuthFailure.from(error);
  }
}

function toResult(tokens: { access_token: string; expires_in?: number | undefined; refresh_token?: string | undefined }, account?: string): TokenResult {
  return {
    accessToken: tokens.access_token,
    expiresAt: new Date(Date.now() + (tokens.expires_in ?? 3600) * 1000),
    refreshToken: tokens.refresh_token,
    account,
  };
}

/** App-only token from any OAuth 2.0 token endpoint. */
export async function openidClientCredentials(settings: OAuthSettings, clientSecret: string, scopes: string[], limits: OAuthHttpLimits = oauthLimits()): Promise<TokenResult> {
  const oidc = await import('openid-client');
  const config = await configure(settings, clientSecret, limits);
  try {
    return toResult(await oidc.clientCredentialsGrant(config, scopes.length ? { scope: scopes.join(' ') } : {}));
  } catch (error) {
    throw OAuthFailure.from(error);
  }
}

/** A new access token (and, when the provider rotates it, a new refresh token). */
export async function openidRefresh(settings: OAuthSettings, clientSecret: string | undefined, refreshToken: string, limits: OAuthHttpLimits = oauthLimits()): Promise<TokenResult> {
  const oidc = await import('openid-client');
  const config = await configure(settings, clientSecret, limits);
  try {
    const tokens = await oidc.refreshTokenGrant(config, refreshToken);
    // A provider that does not rotate keeps the old refresh token valid.
    return toResult({ ...tokens, refresh_token: tokens.refresh_token ?? refreshToken });
  } catch (error) {
    throw OAuthFailure.from(error);
  }
}

/** Delegated sign-in by device code (RFC 8628). */
export async function openidDeviceCode(settings: OAuthSettings, clientSecret: string | undefined, scopes: string[], prompt: SignInPrompt, limits: OAuthHttpLimits = oauthLimits()): Promise<TokenResult> {
  const oidc = await import('openid-client');
  const config = await configure(settings, clientSecret, limits);
  try {
    const device = await oidc.initiateDeviceAuthorization(config, { scope: scopes.join(' ') });
    prompt.showDeviceCode({ verificationUri: device.verification_uri, userCode: device.user_code, expiresInSeconds: device.expires_in });
    const tokens = await oidc.pollDeviceAuthorizationGrant(config, device);
    return toResult(tokens, tokens.claims()?.email as string | undefined);
  } catch (error) {
    throw OAuthFailure.from(error);
  }
}

/**
 * Delegated sign-in in a browser: authorization code with PKCE, the redirect caught by a
 * one-shot HTTP listener on 127.0.0.1 (RFC 8252 loopback redirect).
 */
export async function openidBrowser(settings: OAuthSettings, clientSecret: string | undefined, scopes: string[], prompt: SignInPrompt, timeoutMs = 300_000, limits: OAuthHttpLimits = oauthLimits()): Promise<TokenResult> {
  const oidc = await import('openid-client');
  const config = await configure(settings, clientSecret, limits);
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const redirectUri = `http://127.0.0.1:${(server.address() as { port: number }).port}/callback`;
  try {
    const callback = new Promise<URL>((resolve, reject) => {
      const timer = setTimeout(() => reject(new OAuthFailure('timeout', 'nobody completed the browser sign-in in time')), timeoutMs);
      server.on('request', (req, res) => {
        const url = new URL(req.url ?? '/', redirectUri);
        if (url.pathname !== '/callback') { res.writeHead(404).end(); return; }
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('mailctl: sign-in received. You can close this window.');
        clearTimeout(timer);
        resolve(url);
      });
    });
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      ...(settings.provider === 'google' ? { access_type: 'offline', prompt: 'consent', login_hint: settings.username } : {}),
    });
    await prompt.openBrowser(url.href);
    const tokens = await oidc.authorizationCodeGrant(config, await callback, { pkceCodeVerifier: verifier, expectedState: state }, { redirect_uri: redirectUri });
    return toResult(tokens, tokens.claims()?.email as string | undefined);
  } catch (error) {
    throw OAuthFailure.from(error);
  } finally {
    server.close();
  }
}
