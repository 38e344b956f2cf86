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

  /** The server pacing us (too many connections, busy, a rate limit), not refusing: see isThrottleReply. */
  get throttled(): boolean {
    return isThrottleReply(this.responseCode, this.response);
  }
}

/**
 * Whether a reply is the server pacing us ("too many connections", "server busy", a rate limit)
 * rather than refusing the message: the message is tried again within seconds over fewer
 * connections, and the attempt does not count as a failure. `responseCode` is the reply's
 * three-digit code, `response` its text (with the enhanced status code when there is one).
 *
 * Sources:
 * - 432 and 4.3.2: Microsoft, "Message storage and concurrent connection throttling for SMTP
 *   Authenticated Submission" — three connections per mailbox, more get "432 4.3.2 Concurrent
 *   connections limit exceeded" or "4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded".
 *   RFC 3463 §3.4 X.3.2 "System not accepting network messages".
 * - 4.4.5: RFC 3463 §3.5 "Mail system congestion" (Gmail: "421 4.4.5 Server busy, try again later").
 * - 4.7.500–4.7.699: Microsoft, "Fix error code 451 4.7.500-699 (ASxxx) in Exchange Online" —
 *   "Server busy. Please try again later", "Access denied, please try again later".
 * - 421 (RFC 5321 §4.2.3, the server closing the channel) and 450/451/452 with texts that name
 *   connections, concurrency, a rate limit or throttling: smtp-server's "Too many connected
 *   clients, try again in a moment", "421 4.7.0 Too many concurrent SMTP connections".
 * Not throttling: greylisting ("451 4.7.1 Try again later", retried after minutes by design), a
 * recipient receiving mail too fast (Gmail's 450 4.2.1: fewer connections would not help), "too
 * many recipients" (452 4.5.3), and every 5xx.
 */
export function isThrottleReply(responseCode: number | undefined, response: string | undefined): boolean {
  if (responseCode === 432) return true;
  if (responseCode === undefined || responseCode < 400 || responseCode >= 500) return false;
  const text = response ?? '';
  const enhanced = /\b4\.(\d{1,3})\.(\d{1,3})\b/.exec(text);
  if (enhanced) {
    const [subject, detail] = [Number(enhanced[1]), Number(enhanced[2])];
    if ((subject === 3 && detail === 2) || (subject === 4 && detail === 5)) return true;
    if (subject === 7 && detail >= 500 && detail <= 699) return true;
  }
  if (![421, 450, 451, 452].includes(responseCode)) return false;
  return throttleWords.test(text);
}

/** What a server says when it paces a client (see isThrottleReply); linear, no nested repetition. */
const throttleWords = /too many (?:[a-z]+ ){0,2}(?:connections|sessions|connected clients|messages)|concurrent (?:connections?|sessions?) limit|connection limit|sender thread limit|rate limit|rate exceeded|throttl|server (?:is )?(?:too )?busy|slow down|try again in a moment/i;
