import { ExitCode, UserError } from '../errors.js';
import type { MailctlConfig } from '../config/config-schema.js';
import { secretRefId } from '../config/property-secrets.js';
import type { SecretStore } from '../secrets/secret-store.js';
import type { OutboundConfig } from './outbound-config.js';
import type { SmtpAuth, SmtpTarget } from './smtp-session.js';
import type { TokenProvider } from '../auth/token-provider.js';

/** The saved outbound server, or a clear "configure it first". */
export function requireOutbound(config: MailctlConfig): OutboundConfig {
  const outbound = config.outbound;
  if (!outbound?.host || !outbound.port || !outbound.security || !outbound.auth) {
    throw new UserError('E_OUTBOUND_MISSING', 'No outbound server is configured yet.', { command: 'mailctl configure server', exitCode: ExitCode.config });
  }
  return { from: '', ...outbound } as OutboundConfig;
}

/** Reads a `${secret:ID}` value from the secret store. */
export async function readSecretRef(ref: string | undefined, store: SecretStore, what: string): Promise<string> {
  const id = ref ? secretRefId(ref) : undefined;
  const value = id ? await store.get(id) : undefined;
  if (value === undefined) {
    throw new UserError('E_SECRET_MISSING', `The ${what} is missing from the ${store.backend} secret store.`, {
      fix: 'Enter it again.',
      command: 'mailctl configure server',
      exitCode: ExitCode.secrets,
    });
  }
  return value;
}

/** SMTP login details for the saved server: the password from the store, or an OAuth token (XOAUTH2). */
export async function smtpAuthFor(outbound: OutboundConfig, store: SecretStore, tokens?: TokenProvider): Promise<SmtpAuth> {
  const auth = outbound.auth;
  if (auth.type === 'none') return { type: 'none' };
  if (auth.type === 'password') return { type: 'password', user: auth.username, pass: await readSecretRef(auth.password, store, 'outbound password') };
  if (!tokens) throw new UserError('E_OAUTH_NO_PROVIDER', 'An OAuth token source is needed for this server.', { exitCode: ExitCode.bug });
  return { type: 'xoauth2', user: auth.username, accessToken: await tokens.getToken() };
}

/** Everything needed to open an SMTP session to the saved server. */
export async function smtpTargetFor(outbound: OutboundConfig, store: SecretStore, timeoutMs: number, tokens?: TokenProvider): Promise<SmtpTarget> {
  return {
    host: outbound.host,
    port: outbound.port,
    security: outbound.security,
    tlsSkipVerify: Boolean(outbound.tlsSkipVerify),
    ...(outbound.tlsCa ? { tlsCa: outbound.tlsCa } : {}),
    auth: await smtpAuthFor(outbound, store, tokens),
    timeoutMs,
  };
}
