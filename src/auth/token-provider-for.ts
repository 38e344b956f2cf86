import type { Clock } from '../clock.js';
import type { SecretStore } from '../secrets/secret-store.js';
import { OAuthTokenProvider } from './oauth-token-provider.js';
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

export function oauthSettingsOf(auth: OAuthAuthFields): OAuthSettings {
  return {
    provider: auth.provider,
    username: auth.username,
    tenant: auth.tenant,
    clientId: auth.clientId,
    clientSecret: auth.clientSecret,
    tokenUrl: auth.tokenUrl,
    scope: auth.scope,
    flow: auth.flow,
    authorityUrl: auth.authorityUrl,
  };
}

/** The token provider of one place ("outbound", "inbound/<table>"). */
export function tokenProviderFor(place: string, auth: OAuthAuthFields, purpose: TokenPurpose, deps: { secrets: SecretStore; clock: Clock }): OAuthTokenProvider {
  return new OAuthTokenProvider(place, oauthSettingsOf(auth), purpose, deps);
}
