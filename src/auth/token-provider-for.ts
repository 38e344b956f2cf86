import type { Clock } from '../clock.js';
import type { SecretStore } from '../secrets/secret-store.js';
import { OAuthTokenProvider, type TokenRefreshEvent } from './oauth-token-provider.js';
import type { OAuthAccountFields } from './oauth-account.js';
import type { OutboundConfig } from '../outbound/outbound-config.js';
import { firstClientSecretRef } from '../rotation/secret-occurrence.js';
import type { OAuthSettings, TokenPurpose } from './oauth-settings.js';

export type OAuthAuthFields = OAuthAccountFields;

/**
 * OAuth settings from an account's fields. Without a structured client secret the first
 * `client_secret` of the custom properties is used: that is where Microsoft-style
 * configurations keep it (three times).
 */
export function oauthSettingsOf(auth: OAuthAuthFields, properties?: string): OAuthSettings {
  return {
    provider: auth.provider,
    username: auth.username,
    tenant: auth.tenant,
    clientId: auth.clientId,
    clientSecret: auth.clientSecret ?? firstClientSecretRef(properties),
    tokenUrl: auth.tokenUrl,
    scope: auth.scope,
    flow: auth.flow,
    authorityUrl: auth.authorityUrl,
  };
}

/** The token provider of one place ("outbound", "inbound/<table>"). */
export function tokenProviderFor(place: string, auth: OAuthAuthFields, purpose: TokenPurpose, deps: { secrets: SecretStore; clock: Clock; timeoutMs?: number; onRefresh?: (event: TokenRefreshEvent) => void }, properties?: string): OAuthTokenProvider {
  return new OAuthTokenProvider(place, oauthSettingsOf(auth, properties), purpose, deps);
}

/** The outbound server's token provider when it logs in with OAuth (XOAUTH2), else undefined. */
export function outboundTokenProvider(outbound: Pick<OutboundConfig, 'auth' | 'properties'>, deps: { secrets: SecretStore; clock: Clock; timeoutMs?: number; onRefresh?: (event: TokenRefreshEvent) => void }): OAuthTokenProvider | undefined {
  return outbound.auth.type === 'oauth2' ? tokenProviderFor('outbound', outbound.auth, 'smtp', deps, outbound.properties) : undefined;
}
