import type { Deps } from '../../deps.js';
import { ExitCode, UsageError, isUserError } from '../../errors.js';
import { isEmailAddress, resolveGlobals } from '../../config/globals.js';
import { parseDuration } from '../../config/units.js';
import { loadKbKeys } from '../../kb/load-kb.js';
import { composeMessage } from '../../outbound/compose-message.js';
import { checkDraft, checkServerSize } from '../../outbound/presend-checks.js';
import { requireOutbound, smtpTargetFor } from '../../outbound/resolve-outbound.js';
import { SmtpFailure } from '../../outbound/smtp-failure.js';
import { runSmtpSession, type QuitAfter } from '../../outbound/smtp-session.js';
import { presendExitCode, smtpPhaseExitCode } from '../../outbound/smtp-phase.js';
import { OAuthFailure } from '../../auth/oauth-failure.js';

export interface TestSendOptions {
  to: string;
  transcript?: boolean;
  quitAfter?: QuitAfter;
  timeout: string;
}

/** The catalog and its printing load only when something failed: a good send starts faster. */
async function failureReporting() {
  const [{ diagnose }, { reportSmtpFailure }, { showDiagnosis }] = await Promise.all([
    import('../../diagnosis/diagnose.js'), import('../../outbound/smtp-report.js'), import('../../ui/show-diagnosis.js'),
  ]);
  return { diagnose, reportSmtpFailure, showDiagnosis };
}

/** `mailctl test-send --to ADDR`: one real message through the outbound server, every step checked. */
export async function runTestSend(deps: Deps, options: TestSendOptions): Promise<number> {
  const { out } = deps;
  if (!isEmailAddress(options.to.trim())) throw new UsageError('E_TO_INVALID', `--to "${options.to}" is not an email address.`);
  const timeoutMs = parseDuration(options.timeout);
  if (timeoutMs === undefined || timeoutMs < 1000) throw new UsageError('E_TIMEOUT', `--timeout "${options.timeout}" is not a duration of at least 1s (e.g. 10s, 1m).`);

  const config = (await deps.config()).read();
  const outbound = requireOutbound(config);
  const { store } = await deps.secrets();
  const keys = await loadKbKeys(config, store);
  const limits = resolveGlobals(config.globals ?? {});
  const sentAt = deps.clock.now();
  const draft = {
    from: outbound.from,
    to: [options.to.trim()],
    subject: `mailctl test message from ${keys.kb.name}`,
    text: [
      'This is a test message sent by mailctl test-send.',
      '',
      `KB:              ${keys.kb.name} (${keys.kb.environment}) ${keys.kb.url}`,
      `Outbound server: ${outbound.host}:${outbound.port} (${outbound.security})`,
      `Sent at:         ${sentAt.toISOString()}`,
      '',
      'If you can read this, outbound mail from this KB works.',
    ].join('\n'),
  };
  const transcript: string[] = [];
  const quitBeforeAuth = options.quitAfter === 'connect' || options.quitAfter === 'tls';
  let target: Awaited<ReturnType<typeof smtpTargetFor>>;
  try {
    target = quitBeforeAuth
      ? await smtpTargetFor({ ...outbound, auth: { type: 'none' } }, store, timeoutMs)
      : await smtpTargetFor(outbound, store, timeoutMs, outbound.auth.type === 'oauth2'
        ? (await import('../../auth/token-provider-for.js')).outboundTokenProvider(outbound, { secrets: store, clock: deps.clock })
        : undefined);
  } catch (error) {
    if (!(error instanceof OAuthFailure)) throw error;
    const { diagnose, showDiagnosis } = await failureReporting();
    // No token, so no login: this is the auth phase, said in the identity provider's words.
    const diagnosis = diagnose({ area: 'oauth', text: error.message, kind: error.error });
    out.error(`Test send failed while getting an OAuth token (phase auth, exit ${smtpPhaseExitCode.auth}).`);
    showDiagnosis(out, diagnosis, error.message);
    out.data({ ok: false, phase: 'auth', exitCode: smtpPhaseExitCode.auth, error: error.message, oauthError: error.error, diagnosis });
    return smtpPhaseExitCode.auth;
  }

  let messageId: string | undefined;
  try {
    checkDraft(draft, { maxBodySize: limits.max_body_size, maxAttachmentSize: limits.max_attachment_size });
    const message = await composeMessage(draft, { kb: keys.kb.name, serverUrl: keys.kb.url, table: null, recordId: null, origin: 'test-send', sentAt }, keys.active);
    messageId = message.messageId;
    const result = await runSmtpSession(target, {
      message: { from: draft.from, to: draft.to, raw: message.raw },
      ...(options.quitAfter ? { quitAfter: options.quitAfter } : {}),
      transcript: (line) => transcript.push(line),
      beforeSend: (session) => checkServerSize(message.raw.length, session.serverMaxSize),
    });
    const tlsText = result.tls ? `${result.tls.protocol}${target.tlsSkipVerify ? ', certificate NOT verified (tlsSkipVerify)' : ''}` : 'no TLS';
    if (options.transcript) printTranscript(deps, transcript);
    if (result.completed === 'sent') {
      out.success(`Test message accepted by ${target.host}:${target.port} (${tlsText}).`);
      out.line(`  server said: ${result.response}`);
      out.line(`  Message-ID:  <${message.messageId}>`);
      out.line(`  If it never arrives at ${options.to}, the outbound server itself is the suspect: look for this Message-ID in its logs and queue.`);
    } else {
      out.success(`Stopped after ${options.quitAfter} as asked: ${describeProgress(result.completed, target.host, target.port, tlsText)}. Nothing was sent.`);
    }
    out.data({
      ok: true,
      completed: result.completed,
      server: { host: target.host, port: target.port, security: target.security, tls: result.tls, maxSize: result.serverMaxSize },
      response: result.response ?? null,
      messageId: result.completed === 'sent' ? message.messageId : null,
      ...(options.transcript ? { transcript } : {}),
    });
    return ExitCode.ok;
  } catch (error) {
    if (options.transcript) printTranscript(deps, transcript);
    if (error instanceof SmtpFailure) {
      const { reportSmtpFailure, showDiagnosis } = await failureReporting();
      const report = reportSmtpFailure(error, target);
      out.error(`Test send failed while ${report.phaseLabel} (phase ${report.phase}, exit ${report.exitCode}).`);
      showDiagnosis(out, report.diagnosis, report.serverSaid ?? report.error);
      out.data({ ok: false, ...report, messageId: messageId ?? null, ...(options.transcript ? { transcript } : {}) });
      return report.exitCode;
    }
    if (isUserError(error) && error.exitCode === presendExitCode) {
      const { diagnose, showDiagnosis } = await failureReporting();
      const diagnosis = diagnose({ area: 'presend', text: error.message, kind: error.code });
      out.error(`Test send stopped before sending (phase presend, exit ${presendExitCode}): ${error.message}`);
      showDiagnosis(out, diagnosis);
      out.data({ ok: false, phase: 'presend', exitCode: presendExitCode, error: error.message, code: error.code, diagnosis });
      return presendExitCode;
    }
    throw error;
  }
}

function describeProgress(completed: string, host: string, port: number, tls: string): string {
  if (completed === 'recipient') return `${host}:${port} (${tls}) accepted the login, the sender and the recipient`;
  if (completed === 'auth') return `connected to ${host}:${port} (${tls}) and logged in`;
  return `connected to ${host}:${port} (${tls})`;
}

function printTranscript(deps: Deps, lines: readonly string[]): void {
  deps.out.line(deps.out.color.dim('--- SMTP transcript (credentials hidden) ---'));
  for (const line of lines) deps.out.line(deps.out.color.dim(line));
  deps.out.line(deps.out.color.dim('--- end of transcript ---'));
}
