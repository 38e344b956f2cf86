/** The OAuth providers mailctl knows. */
export type OAuthProvider = 'microsoft' | 'google' | 'generic';
export type OAuthFlow = 'client_credentials' | 'device_code' | 'authorization_code' | 'refresh_token';

/** The OAuth fields of an outbound server or inbound account, as stored (secrets as references). */
export interface OAuthAccountFields {
  provider: OAuthProvider;
  username: string;
  tenant?: string | undefined;
  clientId: string;
  /** `${secret:ID}` */
  clientSecret?: string | undefined;
  tokenUrl?: string | undefined;
  scope?: string | undefined;
  /** Client credentials (app-only), or delegated sign-in by a person. */
  flow?: OAuthFlow | undefined;
  /** Microsoft: another authority (sovereign cloud, test server); Google/generic: the issuer to discover. */
  authorityUrl?: string | undefined;
}

/** Password login fields, the secret as a reference. */
export interface PasswordAccountFields {
  username: string;
  /** `${secret:ID}` */
  password: string;
}

export const secretRefPattern = '^\\$\\{secret:[A-Za-z0-9._/-]+\\}$';

/** JSON schema of `auth` (shared by `outbound` and each `inbound.<table>`). */
export function authSchema(types: readonly string[]) {
  return {
    type: 'object',
    required: ['type'],
    properties: {
      type: { enum: types },
      username: { type: 'string' },
      password: { type: 'string', pattern: secretRefPattern },
      provider: { enum: ['microsoft', 'google', 'generic'] },
      tenant: { type: 'string' },
      clientId: { type: 'string' },
      clientSecret: { type: 'string', pattern: secretRefPattern },
      tokenUrl: { type: 'string' },
      scope: { type: 'string' },
      flow: { enum: ['client_credentials', 'device_code', 'authorization_code', 'refresh_token'] },
      authorityUrl: { type: 'string', pattern: '^https://' },
    },
  } as const;
}
