import type { SmtpPhase } from './smtp-phase.js';

/** A failed SMTP step, with the server's exact words when it said something. */
export class SmtpFailure extends Error {
  readonly phase: SmtpPhase;
  /** nodemailer's error class (ECONNECTION, EAUTH, …). */
  readonly kind: string;
  /** The system or TLS code under it (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT, …). */
  readonly detailCode: string | undefined;
  /** The server's full reply, when there was one. */
  readonly response: string | undefined;
  readonly responseCode: number | undefined;
  /** The SMTP command that failed (MAIL FROM, RCPT TO, AUTH PLAIN, …). */
  readonly command: string | undefined;

  constructor(phase: SmtpPhase, message: string, facts: { kind: string; detailCode?: string; response?: string; responseCode?: number; command?: string }) {
    super(message);
    this.name = 'SmtpFailure';
    this.phase = phase;
    this.kind = facts.kind;
    this.detailCode = facts.detailCode;
    this.response = facts.response;
    this.responseCode = facts.responseCode;
    this.command = facts.command;
  }

  /**
   * 4xx replies and network trouble may pass; 5xx will not (RFC 5321), except 503 (bad sequence).
   * A deadline that passed (ETIMEDOUT) and a connection dropped by a stopping daemon (EABORT) too.
   */
  get transient(): boolean {
    if (this.responseCode === 503) return true;
    if (this.responseCode !== undefined) return this.responseCode >= 400 && this.responseCode < 500;
    return ['connect', 'greeting'].includes(this.phase) || this.kind === 'ETIMEDOUT' || this.kind === 'EABORT' || this.kind === 'ECONNECTION' || this.kind === 'ESOCKET';
  }
}
