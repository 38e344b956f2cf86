import { InboundFailure } from './inbound-failure.js';
import { OAuthFailure } from '../auth/oauth-failure.js';
import { reportInboundFailure, type InboundFailureReport } from './inbound-report.js';
import type { InboundAccount } from './inbound-config.js';
import type { AccountCheck, MailSource, ServerCheck } from './mail-source.js';
import { GraphSource } from './graph-source.js';
import { defaultGraphBaseUrl } from './inbound-config.js';
import { probeServer } from './server-probe.js';
import { openSource, type SourceContext } from './open-source.js';

export type StepResult<T> = { ok: true; value: T } | { ok: false; report: InboundFailureReport };

/** Where the account's server is, for messages. */
export function accountWhere(account: InboundAccount): { host: string; port: number; authMethod: 'password' | 'oauth2' } {
  return { host: account.host, port: account.port, authMethod: account.auth.type };
}

/** The wizard's "Server" step: reachable, TLS, greeting, capabilities; no login, no secret needed. */
export async function checkServer(account: InboundAccount, timeoutMs: number): Promise<StepResult<ServerCheck>> {
  try {
    const value = account.protocol === 'graph'
      ? await new GraphSource({
          baseUrl: account.graphBaseUrl ?? defaultGraphBaseUrl,
          mailbox: account.mailbox ?? account.auth.username,
          folder: account.folder,
          afterProcessing: account.afterProcessing,
          tokens: { getToken: () => Promise.reject(new Error('no token is needed to reach the server')) },
          timeoutMs,
        }).verifyServer()
      : await probeServer({ ...account, protocol: account.protocol, timeoutMs });
    return { ok: true, value };
  } catch (error) {
    if (error instanceof InboundFailure) return { ok: false, report: reportInboundFailure(error, accountWhere(account)) };
    throw error;
  }
}

/** The wizard's "Account" step: logs in and checks the folder; changes nothing in the mailbox. */
export async function checkMailbox(source: MailSource, account: InboundAccount): Promise<StepResult<AccountCheck>> {
  try {
    return { ok: true, value: await source.verifyAccount() };
  } catch (error) {
    if (error instanceof InboundFailure) return { ok: false, report: reportInboundFailure(error, accountWhere(account)) };
    if (error instanceof OAuthFailure) {
      return { ok: false, report: reportInboundFailure(new InboundFailure(account.protocol, 'auth', `Getting an OAuth token failed: ${error.message}`, { detailCode: error.error, serverSaid: error.description }), accountWhere(account)) };
    }
    throw error;
  } finally {
    await source.close();
  }
}

/** Both checks, as test-inbound runs them (the account check only when the server answered). */
export async function checkAccount(account: InboundAccount, context: SourceContext): Promise<{ server: StepResult<ServerCheck>; account: StepResult<AccountCheck> | null }> {
  const server = await checkServer(account, context.timeoutMs);
  if (!server.ok) return { server, account: null };
  try {
    return { server, account: await checkMailbox(await openSource(account, context), account) };
  } catch (error) {
    // No token (the identity provider said no): the account check fails in its auth phase.
    if (error instanceof OAuthFailure) {
      return { server, account: { ok: false, report: reportInboundFailure(new InboundFailure(account.protocol, 'auth', `Getting an OAuth token failed: ${error.message}`, { detailCode: error.error, serverSaid: error.description }), accountWhere(account)) } };
    }
    throw error;
  }
}
