import type { Configuration } from '@azure/msal-node';
import { msalNetworkClient, oauthLimits, type OAuthHttpLimits } from './bounded-fetch.js';
import { OAuthFailure } from './oauth-failure.js';
import { isMicrosoftCloud, microsoftAuthority, type OAuthSettings } from './oauth-settings.js';
import type { SignInPrompt, TokenResult } from './token-result.js';

function msalConfig(settings: OAuthSettings, network: MsalNetwork, clientSecret?: string): Configuration {
  const authority = microsoftAuthority(settings);
  const host = new URL(authority).host;
  return {
    auth: { clientId: settings.clientId, authority, ...(clientSecret ? { clientSecret } : {}), ...(isMicrosoftCloud(authority) ? {} : { knownAuthorities: [host] }) },
    // protocolMode lives under `system` (under `auth` it is silently ignored).
    // Our network client: every answer read at most 1 MB, each wait and the whole bounded.
    system: { networkClient: network as never, ...(isMicrosoftCloud(authority) ? {} : { protocolMode: 'OIDC' as never }) },
  };
}

type MsalNetwork = ReturnType<typeof msalNetworkClient>;

type MsalAccount = { username?: string; name?: string; homeAccountId?: string; idTokenClaims?: { preferred_username?: string; email?: string } };

/** Who signed in, as people know them (the UPN / email, not the object id). */
function accountName(account: MsalAccount | null | undefined): string | undefined {
  if (!account) return undefined;
  return account.username || account.idTokenClaims?.preferred_username || account.idTokenClaims?.email || account.name || undefined;
}

function result(r: { accessToken: string; expiresOn: Date | null; account?: MsalAccount | null } | null, msalCache?: string): TokenResult {
  if (!r?.accessToken) throw new OAuthFailure('no_token', 'the identity provider returned no access token');
  return {
    accessToken: r.accessToken,
    expiresAt: r.expiresOn ?? new Date(Date.now() + 3600_000),
    account: accountName(r.account),
    msalCache,
  };
}

/** App-only token (client credentials) from Entra ID with msal-node. */
export async function microsoftClientCredentials(settings: OAuthSettings, clientSecret: string, scopes: string[], limits: OAuthHttpLimits = oauthLimits()): Promise<TokenResult> {
  const { ConfidentialClientApplication } = await import('@azure/msal-node');
  const network = msalNetworkClient(limits);
  try {
    const app = new ConfidentialClientApplication(msalConfig(settings, network, clientSecret));
    return result(await app.acquireTokenByClientCredential({ scopes, skipCache: true }));
  } catch (error) {
    // msal's words for a failed discovery say nothing; what our network client saw does.
    throw OAuthFailure.from(network.failure ?? error);
  }
}

/** Delegated sign-in by device code (public client): the person signs in elsewhere. */
export async function microsoftDeviceCode(settings: OAuthSettings, scopes: string[], prompt: SignInPrompt, limits: OAuthHttpLimits = oauthLimits()): Promise<TokenResult> {
  const { PublicClientApplication } = await import('@azure/msal-node');
  const network = msalNetworkClient(limits);
  try {
    const app = new PublicClientApplication(msalConfig(settings, network));
    const r = await app.acquireTokenByDeviceCode({
      scopes,
      deviceCodeCallback: (info) => prompt.showDeviceCode({ verificationUri: info.verificationUri, userCode: info.userCode, message: info.message, expiresInSeconds: info.expiresIn }),
    });
    return result(r, app.getTokenCache().serialize());
  } catch (error) {
    // msal's words for a failed discovery say nothing; what our network client saw does.
    throw OAuthFailure.from(network.failure ?? error);
  }
}

/** Delegated sign-in in a browser, with msal's own loopback redirect listener. */
export async function microsoftBrowser(settings: OAuthSettings, scopes: string[], prompt: SignInPrompt, limits: OAuthHttpLimits = oauthLimits()): Promise<TokenResult> {
  const { PublicClientApplication } = await import('@azure/msal-node');
  const network = msalNetworkClient(limits);
  try {
    const app = new PublicClientApplication(msalConfig(settings, network));
    const r = await app.acquireTokenInteractive({ scopes, openBrowser: async (url) => { await prompt.openBrowser(url); } });
    return result(r, app.getTokenCache().serialize());
  } catch (error) {
    // msal's words for a failed discovery say nothing; what our network client saw does.
    throw OAuthFailure.from(network.failure ?? error);
  }
}

/** A fresh access token from msal's cached refresh token; the (rotated) cache comes back. */
export async function microsoftSilent(settings: OAuthSettings, scopes: string[], msalCache: string, limits: OAuthHttpLimits = oauthLimits()): Promise<TokenResult> {
  const { PublicClientApplication } = await import('@azure/msal-node');
  const network = msalNetworkClient(limits);
  try {
    const app = new PublicClientApplication(msalConfig(settings, network));
    app.getTokenCache().deserialize(msalCache);
    const [account] = await app.getTokenCache().getAllAccounts();
    if (!account) throw new OAuthFailure('invalid_grant', 'no signed-in account is cached: the sign-in must be done again');
    const r = await app.acquireTokenSilent({ account, scopes, forceRefresh: true });
    return result(r, app.getTokenCache().serialize());
  } catch (error) {
    // msal's words for a failed discovery say nothing; what our network client saw does.
    throw OAuthFailure.from(network.failure ?? error);
  }
}
