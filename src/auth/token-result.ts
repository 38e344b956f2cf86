/** A token as a grant returned it. */
export interface TokenResult {
  accessToken: string;
  expiresAt: Date;
  refreshToken?: string | undefined;
  /** Who the token acts for, when the provider said. */
  account?: string | undefined;
  msalCache?: string | undefined;
}

/** How a delegated sign-in reaches the person at the terminal. */
export interface SignInPrompt {
  /** Device code: show where to go and the code to type. */
  showDeviceCode(info: { verificationUri: string; userCode: string; message?: string | undefined; expiresInSeconds: number }): void;
  /** Browser sign-in: show (and, where possible, open) the URL; the redirect comes to a loopback port. */
  openBrowser(url: string): Promise<void> | void;
}
