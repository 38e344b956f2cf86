import type { Clock } from '../clock.js';
import type { SecretStore } from '../secrets/secret-store.js';
import { OAuthTokenProvider } from './oauth-token-provider.js';
import { firstClientSecretRef } from '../rotation/secret-occurrence.js';
import type { OAuthSettings, TokenPurpose } from './oauth-settings.js';

/** The OAuth fields of an outbound server or inbound account (`auth` with type "oauth2"). */
export interface OAuthAuthFields {
  provider: OAuthSettings['provider'];
  username: string;
  tenant?: string | undefined;
  clientId: string;
  clientSecret?: string | undefined;
  tokenUrl?: string | undefined;
  scope?: string | undefined;
  flow?: OAuthSettings['flow'];
  authorityUrl?: string | undefined;
}

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
export function tokenProviderFor(place: string, auth: OAuthAuthFields, purpose: TokenPurpose, deps: { secrets: SecretStore; clock: Clock }, properties?: string): OAuthTokenProvider {
  return new OAuthTokenProvider(place, oauthSettingsOf(auth, properties), purpose, deps);
}
