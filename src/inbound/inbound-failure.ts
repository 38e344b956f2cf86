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
  /**
   * A fetch failure that is this message's own, not the connection's: the server answered for
   * this message and the answer was a refusal or garbage (a NO, a literal far beyond what was
   * asked). False when it could be the server's or the network's (a connection lost, a deadline):
   * such a failure counts against the message only when the same poll took other mail.
   */
  readonly messageFault: boolean;
  /** For a message that could not be fetched: its header fields as far as the server gave them ('' when unknown), to name it. */
  readonly headerBlock: string;

  constructor(protocol: InboundFailure['protocol'], phase: InboundPhase, message: string, facts: { detailCode?: string | undefined; serverSaid?: string | undefined; status?: number | undefined; messageFault?: boolean; headerBlock?: string } = {}) {
    super(message);
    this.name = 'InboundFailure';
    this.protocol = protocol;
    this.phase = phase;
    this.detailCode = facts.detailCode;
    this.serverSaid = facts.serverSaid;
    this.status = facts.status;
    this.messageFault = facts.messageFault ?? false;
    this.headerBlock = facts.headerBlock ?? '';
  }
}
