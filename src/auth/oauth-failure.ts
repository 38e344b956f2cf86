/** The identity provider said no; its words are kept for the diagnosis catalog. */
export class OAuthFailure extends Error {
  /** The OAuth error code: invalid_client, invalid_grant, … */
  readonly error: string;
  /** error_description, with the AADSTS code when Microsoft sent one. */
  readonly description: string;
  /** AADSTS number when present (e.g. "7000222"). */
  readonly aadsts: string | undefined;

  constructor(error: string, description: string) {
    super(`${error}: ${description}`);
    this.name = 'OAuthFailure';
    this.error = error;
    this.description = description;
    this.aadsts = /AADSTS(\d+)/.exec(description)?.[1];
  }

  /** From whatever msal-node or openid-client threw. */
  static from(thrown: unknown): OAuthFailure {
    if (thrown instanceof OAuthFailure) return thrown;
    // openid-client wraps what its fetch threw (our boundedFetch's own words) as the cause.
    if ((thrown as { cause?: unknown })?.cause instanceof OAuthFailure) return (thrown as { cause: OAuthFailure }).cause;
    const e = thrown as Error & { errorCode?: string; errorMessage?: string; error?: string; error_description?: string; cause?: unknown; code?: string };
    if (e.error && e.error_description !== undefined) return new OAuthFailure(String(e.error), String(e.error_description));
    if (e.errorCode) return new OAuthFailure(e.errorCode, (e.errorMessage ?? e.message).replace(/^[a-z_]+: /, ''));
    const cause = e.cause as (Error & { code?: string }) | undefined;
    const network = cause?.code ?? e.code;
    if (network) return new OAuthFailure('network_error', `${e.message}${cause?.message ? ` (${cause.message})` : ''} [${network}]`);
    return new OAuthFailure('oauth_error', e.message);
  }
}
