import type { OAuthFlow, OAuthProvider } from '../../auth/oauth-account.js';
import type { SmtpSecurity } from '../../outbound/smtp-session.js';

/** The flags both wizards share: where the server is and how to log in. */
export interface AccountFlags {
  host?: string;
  port?: string;
  security?: SmtpSecurity;
  tlsSkipVerify?: boolean;
  tlsCa?: string;
  username?: string;
  secretStdin?: boolean;
  oauthProvider?: OAuthProvider;
  tenant?: string;
  clientId?: string;
  tokenUrl?: string;
  oauthFlow?: OAuthFlow;
  authority?: string;
  propertiesFile?: string;
  verify: boolean;
  timeout: string;
}
