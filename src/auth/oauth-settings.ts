import type { OAuthAccountFields, OAuthFlow } from './oauth-account.js';

export type { OAuthFlow } from './oauth-account.js';
/** What the token is for: the scope differs (Exchange protocols vs Graph). */
export type TokenPurpose = 'smtp' | 'imap' | 'pop3' | 'graph';

/** The OAuth fields an outbound server or inbound account carries (secrets as references). */
export type OAuthSettings = OAuthAccountFields;

const exchange = 'https://outlook.office365.com';
const graph = 'https://graph.microsoft.com';

/** The grant to use when the settings do not say. */
export function flowOf(settings: OAuthSettings): OAuthFlow {
  if (settings.flow) return settings.flow;
  if (settings.provider === 'google') return 'authorization_code';
  if (settings.provider === 'generic') return settings.clientSecret ? 'client_credentials' : 'refresh_token';
  return 'client_credentials';
}

/** True when a person must sign in (device code or browser) to get the first token. */
export function isDelegated(settings: OAuthSettings): boolean {
  const flow = flowOf(settings);
  return flow === 'device_code' || flow === 'authorization_code' || flow === 'refresh_token';
}

/** The scopes for a purpose (SPEC "OAuth 2.0"), unless the settings name their own. */
export function scopesFor(settings: OAuthSettings, purpose: TokenPurpose): string[] {
  if (settings.scope) return settings.scope.split(/\s+/).filter(Boolean);
  if (settings.provider === 'google') return ['https://mail.google.com/'];
  if (settings.provider === 'generic') return [];
  if (!isDelegated(settings)) return [purpose === 'graph' ? `${graph}/.default` : `${exchange}/.default`];
  const delegated = { smtp: `${exchange}/SMTP.Send`, imap: `${exchange}/IMAP.AccessAsUser.All`, pop3: `${exchange}/POP.AccessAsUser.All`, graph: `${graph}/Mail.ReadWrite` }[purpose];
  return [delegated, 'offline_access'];
}

/** Microsoft: the authority URL (login.microsoftonline.com/<tenant> unless overridden). */
export function microsoftAuthority(settings: OAuthSettings): string {
  if (settings.authorityUrl) return settings.authorityUrl.endsWith('/') ? settings.authorityUrl : `${settings.authorityUrl}/`;
  return `https://login.microsoftonline.com/${settings.tenant || 'organizations'}/`;
}

/** Microsoft's own login hosts speak AAD; anything else (a test server, ADFS) plain OIDC. */
export function isMicrosoftCloud(authority: string): boolean {
  return /^https:\/\/login\.(microsoftonline\.(com|us)|partner\.microsoftonline\.cn|chinacloudapi\.cn)\//.test(authority);
}
