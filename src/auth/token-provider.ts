/** Where an OAuth access token comes from (the OAuth providers implement this). */
export interface TokenProvider {
  /** A valid access token, refreshed when close to expiry. */
  getToken(): Promise<string>;
  /** Forget the cached token (after the server refused it). */
  invalidate?(): Promise<void>;
}
