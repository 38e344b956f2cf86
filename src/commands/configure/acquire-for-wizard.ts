import type { Deps } from '../../deps.js';
import { OAuthFailure } from '../../auth/oauth-failure.js';
import { isDelegated } from '../../auth/oauth-settings.js';
import type { OAuthTokenProvider } from '../../auth/oauth-token-provider.js';
import { diagnose } from '../../diagnosis/diagnose.js';
import { smtpPhaseExitCode, smtpPhaseLabel } from '../../outbound/smtp-phase.js';
import type { SmtpFailureReport } from '../../outbound/smtp-report.js';
import { showDiagnosis } from '../../ui/show-diagnosis.js';

/**
 * Gets a token for a wizard's check: client credentials at once; delegated sign-in only
 * on a terminal (a device code to type elsewhere). Returns the token, undefined when
 * nobody can sign in now, or a failure report in the SMTP report's shape.
 */
export async function acquireForWizard(deps: Deps, provider: OAuthTokenProvider): Promise<string | undefined | SmtpFailureReport> {
  const { out, prompt } = deps;
  try {
    if (!isDelegated(provider.settings)) {
      const token = await provider.refresh({});
      out.success(`Got an OAuth token from the identity provider (client credentials, valid until ${token.expiresAt.toISOString()}).`);
      return token.accessToken;
    }
    if (!prompt.interactive) {
      out.warn('This account signs in as a person (delegated OAuth); there is no terminal here, so the login is not checked now.');
      return undefined;
    }
    const token = await provider.signIn({
      showDeviceCode: ({ verificationUri, userCode }) => out.line(`  Sign in as the mailbox user: open ${verificationUri} and enter the code ${userCode}. Waiting…`),
      openBrowser: (url) => out.line(`  Sign in as the mailbox user in a browser: ${url}`),
    });
    out.success(`Signed in${token.account ? ` as ${token.account}` : ''}.`);
    return token.accessToken;
  } catch (error) {
    if (!(error instanceof OAuthFailure)) throw error;
    const diagnosis = diagnose({ area: 'oauth', text: error.message, kind: error.error });
    out.error(`Getting an OAuth token failed: ${error.message.split('\n')[0]}`);
    showDiagnosis(out, diagnosis);
    return {
      phase: 'auth', phaseLabel: smtpPhaseLabel.auth, exitCode: smtpPhaseExitCode.auth, serverSaid: null, error: error.message,
      responseCode: null, command: null, detailCode: error.error, transient: false, diagnosis,
    };
  }
}
