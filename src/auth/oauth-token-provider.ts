import type { Clock } from '../clock.js';
import { ExitCode, UserError } from '../errors.js';
import { readSecretRef } from '../outbound/resolve-outbound.js';
import type { SecretStore } from '../secrets/secret-store.js';
import { oauthLimits } from './bounded-fetch.js';
import { microsoftBrowser, microsoftClientCredentials, microsoftDeviceCode, microsoftSilent } from './microsoft-flows.js';
import { OAuthFailure } from './oauth-failure.js';
import { flowOf, isDelegated, scopesFor, type OAuthSettings, type TokenPurpose } from './oauth-settings.js';
import { openidBrowser, openidClientCredentials, openidDeviceCode, openidRefresh } from './openid-flows.js';
import { dropTokens, readTokens, writeTokens, type CachedTokens } from './token-cache.js';
import type { TokenProvider } from './token-provider.js';
import type { SignInPrompt, TokenResult } from './token-result.js';

/** One refresh of an account's token: its place ("outbound", "inbound/<table>"), its provider, whether it worked. */
export interface TokenRefreshEvent {
  place: string;
  provider: string;
  ok: boolean;
}

/** Refresh when less than this is left, so a token never expires mid-session. */
const refreshMarginMs = 5 * 60_000;

/** "outbound" → "mailctl reset-oauth outbound"; "inbound/contracts" → "… inbound contracts". */
export function resetCommandFor(place: string): string {
  return `mailctl reset-oauth ${place.replace('/', ' ')}`;
}

/**
 * Tokens for one account: cached in the secret store, refreshed before expiry (client
 * credentials: a new token; delegated: the refresh token, whose rotated successor is
 * always saved), and a person's sign-in when nothing else works.
 */
export class OAuthTokenProvider implements TokenProvider {
  constructor(
    readonly place: string,
    readonly settings: OAuthSettings,
    readonly purpose: TokenPurpose,
    private readonly deps: {
      secrets: SecretStore; clock: Clock; /** A secret typed in a wizard, not stored yet. */ clientSecret?: string | undefined;
      /** The command's --timeout (ms): each wait on the identity provider; four of them in all. Default 30 s. */ timeoutMs?: number | undefined;
      /** Told after each refresh (a token fetched without a person), whether it worked: the daemon's metrics. */ onRefresh?: ((event: TokenRefreshEvent) => void) | undefined;
    },
  ) {}

  async getToken(): Promise<string> {
    const cached = await readTokens(this.deps.secrets, this.place);
    if (cached.accessToken && cached.expiresAt && Date.parse(cached.expiresAt) - this.deps.clock.now().getTime() > refreshMarginMs) {
      return cached.accessToken;
    }
    return (await this.refresh(cached)).accessToken;
  }

  /** A new access token without a person (client credentials, or the refresh token). */
  async refresh(cached?: CachedTokens): Promise<TokenResult> {
    const tokens = cached ?? (await readTokens(this.deps.secrets, this.place));
    const { settings } = this;
    const scopes = scopesFor(settings, this.purpose);
    const limits = oauthLimits(this.deps.timeoutMs);
    try {
      let result: TokenResult;
      if (!isDelegated(settings)) {
        const secret = await this.#clientSecret(true);
        result = settings.provider === 'microsoft' ? await microsoftClientCredentials(settings, secret!, scopes, limits) : await openidClientCredentials(settings, secret!, scopes, limits);
      } else if (settings.provider === 'microsoft' && tokens.msalCache) {
        result = await microsoftSilent(settings, scopes, tokens.msalCache, limits);
      } else if (settings.provider !== 'microsoft' && tokens.refreshToken) {
        result = await openidRefresh(settings, await this.#clientSecret(false), tokens.refreshToken, limits);
      } else {
        throw new OAuthFailure('signin_required', `the ${this.#label()} has no OAuth sign-in yet (or it was reset): a person has to sign in with "${resetCommandFor(this.place)}" on a terminal`);
      }
      await this.#save(tokens, result, true);
      this.deps.onRefresh?.({ place: this.place, provider: settings.provider, ok: true });
      return result;
    } catch (error) {
      this.deps.onRefresh?.({ place: this.place, provider: settings.provider, ok: false });
      if (error instanceof OAuthFailure) {
        await writeTokens(this.deps.secrets, this.place, { ...tokens, accessToken: undefined, expiresAt: undefined, lastRefresh: { at: this.deps.clock.now().toISOString(), ok: false, error: error.message.slice(0, 500) } } as CachedTokens);
      }
      throw error;
    }
  }

  /** A person signs in (device code by default, or a browser with a loopback redirect). */
  async signIn(prompt: SignInPrompt, options: { browser?: boolean } = {}): Promise<TokenResult> {
    const { settings } = this;
    const scopes = scopesFor(settings, this.purpose);
    const secret = await this.#clientSecret(false);
    const useBrowser = options.browser ?? flowOf(settings) === 'authorization_code';
    const result = settings.provider === 'microsoft'
      ? useBrowser ? await microsoftBrowser(settings, scopes, prompt) : await microsoftDeviceCode(settings, scopes, prompt)
      : useBrowser ? await openidBrowser(settings, secret, scopes, prompt) : await openidDeviceCode(settings, secret, scopes, prompt);
    await this.#save({}, result, false);
    return result;
  }

  async invalidate(): Promise<void> {
    const tokens = await readTokens(this.deps.secrets, this.place);
    if (!tokens.accessToken) return;
    await writeTokens(this.deps.secrets, this.place, { ...tokens, accessToken: undefined, expiresAt: undefined } as CachedTokens);
  }

  /** Forgets every token of this account (reset-oauth's first step). */
  async reset(): Promise<void> {
    await dropTokens(this.deps.secrets, this.place);
  }

  async #save(previous: CachedTokens, result: TokenResult, isRefresh: boolean): Promise<void> {
    const now = this.deps.clock.now().toISOString();
    const rotated = result.refreshToken !== undefined && result.refreshToken !== previous.refreshToken;
    const next: CachedTokens = {
      ...previous,
      accessToken: result.accessToken,
      expiresAt: result.expiresAt.toISOString(),
      obtainedAt: now,
      scopes: scopesFor(this.settings, this.purpose),
      lastRefresh: { at: now, ok: true },
      ...(result.refreshToken ? { refreshToken: result.refreshToken } : {}),
      ...(rotated || (!isRefresh && result.refreshToken) ? { refreshTokenIssuedAt: now } : {}),
      ...(result.msalCache ? { msalCache: result.msalCache, refreshTokenIssuedAt: isRefresh ? now : now } : {}),
      ...(result.account ? { account: result.account } : {}),
    };
    await writeTokens(this.deps.secrets, this.place, next);
  }

  async #clientSecret(required: boolean): Promise<string | undefined> {
    if (this.deps.clientSecret !== undefined) return this.deps.clientSecret;
    if (!this.settings.clientSecret) {
      if (required) throw new UserError('E_OAUTH_NO_SECRET', `The ${this.#label()} uses client credentials but has no client secret.`, { command: 'mailctl rotate-secret', exitCode: ExitCode.config });
      return undefined;
    }
    return readSecretRef(this.settings.clientSecret, this.deps.secrets, `client secret of the ${this.#label()}`);
  }

  #label(): string {
    return this.place === 'outbound' ? 'outbound server' : `${this.place.replace('inbound/', '')} inbound account`;
  }
}
