import { ExitCode, UserError } from '../errors.js';
import { graphUrlProblem } from './graph-url.js';
import type { TokenProvider } from '../auth/token-provider.js';
import { tokenProviderFor } from '../auth/token-provider-for.js';
import type { TokenRefreshEvent } from '../auth/oauth-token-provider.js';
import { systemClock, type Clock } from '../clock.js';
import { readSecretRef } from '../outbound/resolve-outbound.js';
import type { SecretStore } from '../secrets/secret-store.js';
import { GraphSource } from './graph-source.js';
import { defaultGraphBaseUrl, type InboundAccount } from './inbound-config.js';
import { ImapSource } from './imap-source.js';
import type { MailboxConnection, MailSource } from './mail-source.js';
import { Pop3Source } from './pop3-source.js';

export interface SourceContext {
  secrets: SecretStore;
  timeoutMs: number;
  /** max_message_size (bytes): the most of one message a source asks for. */
  maxMessageBytes?: number | undefined;
  /** The OAuth token source for an account that logs in with OAuth. */
  tokensFor?: (account: InboundAccount) => TokenProvider;
  clock?: Clock;
  /** Told after each OAuth token refresh (the daemon's metrics). */
  onTokenRefresh?: ((event: TokenRefreshEvent) => void) | undefined;
  /** A password typed in the wizard and not stored yet. */
  passwordOverride?: string | undefined;
}

/** The mail source for an account, with its secret read from the store. */
export async function openSource(account: InboundAccount, context: SourceContext): Promise<MailSource> {
  const tokens = accountTokens(account, context);
  if (account.protocol === 'graph') {
    if (!tokens) throw new UserError('E_GRAPH_NEEDS_OAUTH', 'A Microsoft Graph account needs OAuth 2.0.', { command: `mailctl configure inbound ${account.table}`, exitCode: ExitCode.config });
    // A hand-edited config is held to the same rule as configure: the token never goes out over plain http.
    const problem = graphUrlProblem(account.graphBaseUrl ?? defaultGraphBaseUrl);
    if (problem) throw new UserError('E_GRAPH_URL', problem, { command: `mailctl configure inbound ${account.table} --graph-url https://graph.microsoft.com/v1.0`, exitCode: ExitCode.config });
    return new GraphSource({
      baseUrl: account.graphBaseUrl ?? defaultGraphBaseUrl,
      mailbox: account.mailbox ?? account.auth.username,
      folder: account.folder,
      afterProcessing: account.afterProcessing,
      moveTo: account.moveTo,
      tokens,
      timeoutMs: context.timeoutMs,
      ...(context.maxMessageBytes ? { limits: { maxMessageBytes: context.maxMessageBytes } } : {}),
    });
  }
  const common = await mailboxConnectionOf(account, context, tokens);
  return account.protocol === 'imap' ? new ImapSource({ ...common, moveTo: account.moveTo }) : new Pop3Source(common);
}

/** The account's OAuth token source, or undefined for a password login. */
export function accountTokens(account: InboundAccount, context: SourceContext): TokenProvider | undefined {
  return account.auth.type === 'oauth2'
    ? (context.tokensFor?.(account) ?? tokenProviderFor(`inbound/${account.table}`, account.auth, account.protocol, { secrets: context.secrets, clock: context.clock ?? systemClock, timeoutMs: context.timeoutMs, ...(context.onTokenRefresh ? { onRefresh: context.onTokenRefresh } : {}) }, account.properties))
    : undefined;
}

/**
 * How to reach and log in to an IMAP or POP3 account now: its password read from the store, or
 * a token from `tokens` (cached by it, refreshed when near expiry), so each new connection
 * calls this again. Errors: the store's (a missing secret) and the token provider's.
 */
export async function mailboxConnectionOf(account: InboundAccount, context: SourceContext, tokens = accountTokens(account, context)): Promise<MailboxConnection> {
  const credential = account.auth.type === 'password'
    ? { pass: context.passwordOverride ?? (await readSecretRef(account.auth.password, context.secrets, `password of the ${account.table} account`)) }
    : { accessToken: await tokens!.getToken() };
  return {
    host: account.host,
    port: account.port,
    security: account.security,
    tlsSkipVerify: account.tlsSkipVerify,
    tlsCa: account.tlsCa,
    user: account.auth.username,
    credential,
    folder: account.folder,
    afterProcessing: account.afterProcessing,
    timeoutMs: context.timeoutMs,
    maxMessageBytes: context.maxMessageBytes,
  };
}
