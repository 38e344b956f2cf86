/**
 * Why a Graph base URL must not be used, or null when it may: the bearer token goes to it with
 * every request, so it must be https — plain http only to this machine (a test fixture, a
 * local TLS-terminating proxy), where nobody on the network can read the token.
 */
export function graphUrlProblem(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `"${value}" is not a URL.`;
  }
  if (url.username || url.password) return `"${url.origin}": a Graph URL carries no user name or password (the token is the credential).`;
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && isLoopback(url.hostname)) return null;
  if (url.protocol === 'http:') return `"${value}" is plain http to another machine: the OAuth token would cross the network readable. Use https (plain http is allowed only to 127.0.0.1, ::1 or localhost).`;
  return `"${value}" is not an http(s) URL.`;
}

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
