/** The steps of reaching a mailbox, in order. */
export type InboundPhase = 'connect' | 'tls' | 'greeting' | 'auth' | 'folder' | 'list' | 'fetch' | 'mark';

/** A failed inbound step, with the server's exact words. */
export class InboundFailure extends Error {
  readonly phase: InboundPhase;
  readonly protocol: 'imap' | 'pop3' | 'graph';
  /** System/TLS code (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT) or server code (AUTHENTICATIONFAILED, ErrorAccessDenied). */
  readonly detailCode: string | undefined;
  /** What the server said, verbatim. */
  readonly serverSaid: string | undefined;
  /** HTTP status for Graph. */
  readonly status: number | undefined;

  constructor(protocol: InboundFailure['protocol'], phase: InboundPhase, message: string, facts: { detailCode?: string | undefined; serverSaid?: string | undefined; status?: number | undefined } = {}) {
    super(message);
    this.name = 'InboundFailure';
    this.protocol = protocol;
    this.phase = phase;
    this.detailCode = facts.detailCode;
    this.serverSaid = facts.serverSaid;
    this.status = facts.status;
  }
}
