import type { Deps } from '../../deps.js';
import { ExitCode, UsageError, UserError } from '../../errors.js';
import { parseDuration } from '../../config/units.js';
import { OAuthFailure } from '../../auth/oauth-failure.js';
import { isDelegated } from '../../auth/oauth-settings.js';
import { outboundTokenProvider, tokenProviderFor } from '../../auth/token-provider-for.js';
import type { OAuthTokenProvider } from '../../auth/oauth-token-provider.js';
import type { SignInPrompt } from '../../auth/token-result.js';
import { diagnose } from '../../diagnosis/diagnose.js';
import { checkAccount } from '../../inbound/check-account.js';
import type { InboundAccount } from '../../inbound/inbound-config.js';
import { requireOutbound, smtpTargetFor } from '../../outbound/resolve-outbound.js';
import { SmtpFailure } from '../../outbound/smtp-failure.js';
import { reportSmtpFailure } from '../../outbound/smtp-report.js';
import { runSmtpSession } from '../../outbound/smtp-session.js';
import { AuditRepo } from '../../store/audit-repo.js';
import { showDiagnosis } from '../../ui/show-diagnosis.js';

export interface ResetOAuthOptions {
  all?: boolean;
  browser?: boolean;
  verify: boolean;
  testTo?: string;
  timeout: string;
}

interface Target {
  place: string;
  label: string;
  provider: OAuthTokenProvider;
  verify: () => Promise<boolean>;
}

/**
 * `mailctl reset-oauth outbound | inbound TABLE | --all`: the source guide's "Resetting the
 * OAuth Token". Drops the stored tokens, gets new ones (client credentials: at once;
 * delegated: a person signs in), then verifies the account.
 */
export async function runResetOAuth(deps: Deps, which: string | undefined, table: string | undefined, options: ResetOAuthOptions): Promise<number> {
  const { out } = deps;
  const timeoutMs = parseDuration(options.timeout);
  if (timeoutMs === undefined || timeoutMs < 1000) throw new UsageError('E_TIMEOUT', `--timeout "${options.timeout}" is not a duration of at least 1s.`);
  const targets = await collectTargets(deps, which, table, options, timeoutMs);
  let failed = false;
  const results: Array<Record<string, unknown>> = [];
  for (const target of targets) {
    out.line(out.color.bold(target.label));
    await target.provider.reset();
    out.line('  Dropped the stored tokens.');
    try {
      if (isDelegated(target.provider.settings)) {
        if (!deps.prompt.interactive) {
          throw new UserError('E_OAUTH_NEEDS_PERSON', `The ${target.label} uses delegated sign-in: a person must sign in, and there is no terminal here.`, {
            fix: `Run "${`mailctl reset-oauth ${target.place.replace('/', ' ')}`}" on a terminal.`,
            exitCode: ExitCode.failure,
          });
        }
        const signedIn = await target.provider.signIn(signInPrompt(deps), { browser: Boolean(options.browser) });
        out.success(`Signed in${signedIn.account ? ` as ${signedIn.account}` : ''}; the OAuth registration is complete (token valid until ${signedIn.expiresAt.toISOString()}).`);
      } else {
        const token = await target.provider.refresh({});
        out.success(`The connection is successful: a new token was issued (valid until ${token.expiresAt.toISOString()}).`);
      }
    } catch (error) {
      if (!(error instanceof OAuthFailure)) throw error;
      failed = true;
      const diagnosis = diagnose({ area: 'oauth', text: error.message, kind: error.error });
      out.error(`Getting a token failed: ${error.message.split('\n')[0]}`);
      showDiagnosis(out, diagnosis);
      results.push({ place: target.place, ok: false, error: error.message, diagnosis });
      continue;
    }
    const verified = options.verify ? await target.verify() : true;
    failed ||= !verified;
    results.push({ place: target.place, ok: verified });
    new AuditRepo(await deps.db(), deps.clock).record({ actor: 'cli', action: 'oauth.reset', target: target.place, details: { verified } });
  }
  out.data({ ok: !failed, accounts: results });
  return failed ? ExitCode.failure : ExitCode.ok;
}

function signInPrompt(deps: Deps): SignInPrompt {
  const { out } = deps;
  return {
    showDeviceCode: ({ verificationUri, userCode, expiresInSeconds }) => {
      out.line(`  To finish the OAuth registration, sign in as the mailbox user: open ${out.color.bold(verificationUri)}`);
      out.line(`  and enter the code ${out.color.bold(userCode)} (it expires in ${Math.round(expiresInSeconds / 60)} minutes). Waiting for the sign-in…`);
    },
    openBrowser: (url) => {
      out.line('  To finish the OAuth registration, open this address in a browser on this machine and sign in as the mailbox user:');
      out.line(`  ${url}`);
      out.line('  Waiting for the sign-in…');
    },
  };
}

async function collectTargets(deps: Deps, which: string | undefined, table: string | undefined, options: ResetOAuthOptions, timeoutMs: number): Promise<Target[]> {
  const config = (await deps.config()).read();
  const { store } = await deps.secrets();
  const providerDeps = { secrets: store, clock: deps.clock };
  const targets: Target[] = [];
  const wantOutbound = options.all || which === 'outbound';
  const inboundTables = options.all ? Object.keys(config.inbound ?? {}) : which === 'inbound' ? [table ?? ''] : [];
  if (!options.all && which !== 'outbound' && which !== 'inbound') {
    throw new UsageError('E_RESET_TARGET', 'Say what to reset: outbound, inbound TABLE, or --all.');
  }
  if (which === 'inbound' && !table) throw new UsageError('E_RESET_TARGET', 'Name the table: mailctl reset-oauth inbound TABLE.');

  if (wantOutbound) {
    const outbound = options.all && !config.outbound?.host ? undefined : requireOutbound(config);
    if (outbound && outbound.auth.type === 'oauth2') {
      const provider = tokenProviderFor('outbound', outbound.auth, 'smtp', providerDeps, outbound.properties);
      targets.push({ place: 'outbound', label: `outbound server ${outbound.host}:${outbound.port}`, provider, verify: () => verifyOutbound(deps, options, timeoutMs) });
    } else if (!options.all) {
      throw new UsageError('E_NOT_OAUTH', 'The outbound server does not log in with OAuth 2.0: there is no token to reset.', { command: 'mailctl configure server' });
    }
  }
  for (const name of inboundTables) {
    const account: InboundAccount | undefined = config.inbound?.[name];
    if (!account) throw new UsageError('E_INBOUND_UNKNOWN', `There is no inbound account for the table "${name}".`, { command: 'mailctl inbound list' });
    if (account.auth.type !== 'oauth2') {
      if (options.all) continue;
      throw new UsageError('E_NOT_OAUTH', `The ${name} account does not log in with OAuth 2.0: there is no token to reset.`);
    }
    const provider = tokenProviderFor(`inbound/${name}`, account.auth, account.protocol, providerDeps, account.properties);
    targets.push({ place: `inbound/${name}`, label: `inbound account of ${name} (${account.protocol.toUpperCase()})`, provider, verify: () => verifyInbound(deps, account, provider, timeoutMs) });
  }
  if (targets.length === 0) throw new UsageError('E_NOT_OAUTH', 'No account here logs in with OAuth 2.0.');
  return targets;
}

async function verifyOutbound(deps: Deps, options: ResetOAuthOptions, timeoutMs: number): Promise<boolean> {
  const { out, prompt } = deps;
  const config = (await deps.config()).read();
  const outbound = requireOutbound(config);
  const { store } = await deps.secrets();
  const tokens = outboundTokenProvider(outbound, { secrets: store, clock: deps.clock });
  const target = await smtpTargetFor(outbound, store, timeoutMs, tokens);
  try {
    await runSmtpSession(target, { quitAfter: 'auth' });
    out.success(`Logged in to ${target.host}:${target.port} with the new token (XOAUTH2).`);
  } catch (error) {
    if (!(error instanceof SmtpFailure)) throw error;
    const report = reportSmtpFailure(error, target);
    out.error(`The new token was refused while ${report.phaseLabel}.`);
    showDiagnosis(out, report.diagnosis, report.serverSaid ?? report.error);
    return false;
  }
  let to = options.testTo;
  if (!to && prompt.interactive && (await prompt.confirm({ message: 'Send a test message to confirm the reset?', flag: '--test-to', default: true }))) {
    to = await prompt.input({ message: 'Send it to', flag: '--test-to', default: outbound.from });
  }
  if (!to) {
    out.line('  Send a test message with: mailctl test-send --to you@example.com');
    return true;
  }
  const { runTestSend } = await import('../test-send/run-test-send.js');
  return (await runTestSend(deps, { to, timeout: options.timeout })) === ExitCode.ok;
}

async function verifyInbound(deps: Deps, account: InboundAccount, provider: OAuthTokenProvider, timeoutMs: number): Promise<boolean> {
  const { out } = deps;
  const { store } = await deps.secrets();
  const result = await checkAccount(account, { secrets: store, timeoutMs, clock: deps.clock, tokensFor: () => provider });
  if (!result.server.ok) {
    out.line(`  ${out.color.red('✗')} server: ${result.server.report.error}`);
    showDiagnosis(out, result.server.report.diagnosis, result.server.report.serverSaid);
    return false;
  }
  if (!result.account?.ok) {
    const report = result.account!.ok ? undefined : result.account!.report;
    out.line(`  ${out.color.red('✗')} account: ${report?.error}`);
    if (report) showDiagnosis(out, report.diagnosis, report.serverSaid);
    return false;
  }
  out.success(`The account is valid: folder ${result.account.value.folder}, ${result.account.value.messages} message(s).`);
  return true;
}
