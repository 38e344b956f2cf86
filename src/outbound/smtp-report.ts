import { diagnose } from '../diagnosis/diagnose.js';
import type { Diagnosis } from '../diagnosis/diagnosis.js';
import type { SmtpFailure } from './smtp-failure.js';
import { smtpPhaseExitCode, smtpPhaseLabel, type SmtpPhase } from './smtp-phase.js';

/** A failed SMTP step as people and --json see it. */
export interface SmtpFailureReport {
  phase: SmtpPhase;
  phaseLabel: string;
  exitCode: number;
  /** The server's exact reply, or the library's words when the server said nothing. */
  serverSaid: string | null;
  error: string;
  responseCode: number | null;
  command: string | null;
  detailCode: string | null;
  transient: boolean;
  diagnosis: Diagnosis;
}

export function reportSmtpFailure(failure: SmtpFailure, target: { host: string; port: number; auth?: { type: string } }): SmtpFailureReport {
  const text = [failure.message, failure.response, failure.detailCode].filter(Boolean).join(' | ');
  return {
    phase: failure.phase,
    phaseLabel: smtpPhaseLabel[failure.phase],
    exitCode: smtpPhaseExitCode[failure.phase],
    serverSaid: failure.response ?? null,
    error: failure.message,
    responseCode: failure.responseCode ?? null,
    command: failure.command ?? null,
    detailCode: failure.detailCode ?? null,
    transient: failure.transient,
    diagnosis: diagnose({
      area: 'smtp',
      phase: failure.phase,
      text,
      kind: failure.kind,
      ...(failure.detailCode ? { detailCode: failure.detailCode } : {}),
      ...(failure.responseCode ? { responseCode: failure.responseCode } : {}),
      host: target.host,
      port: target.port,
      ...(target.auth ? { authMethod: target.auth.type === 'xoauth2' ? ('oauth2' as const) : target.auth.type === 'password' ? ('password' as const) : ('none' as const) } : {}),
    }),
  };
}
