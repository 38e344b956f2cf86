import { createServer, type Server } from 'node:https';
import type { TestCert } from './tls-cert.js';

/**
 * Microsoft Entra ID's exact error bodies (they cannot come from a real server here): an
 * HTTPS token endpoint that answers each client id with one AADSTS error, behind an OIDC
 * discovery document so msal-node can be pointed at it.
 */
export const entraErrors: Record<string, { status: number; error: string; description: string }> = {
  'aadsts65001': { status: 400, error: 'invalid_grant', description: "AADSTS65001: The user or administrator has not consented to use the application with ID '11111111-2222-3333-4444-555555555555' named 'mailctl'. Send an interactive authorization request for this user and resource." },
  'aadsts7000215': { status: 401, error: 'invalid_client', description: "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '11111111-2222-3333-4444-555555555555'." },
  'aadsts7000222': { status: 401, error: 'invalid_client', description: "AADSTS7000222: The provided client secret keys for app '11111111-2222-3333-4444-555555555555' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds." },
  'aadsts700016': { status: 400, error: 'unauthorized_client', description: "AADSTS700016: Application with identifier '11111111-2222-3333-4444-555555555555' was not found in the directory 'Acme'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant." },
  'aadsts50173': { status: 400, error: 'invalid_grant', description: "AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '2026-01-05T10:00:00.0000000Z' and the TokensValidFrom date (before which tokens are not valid) for this user is '2026-11-20T08:00:00.0000000Z'." },
  'aadsts700082': { status: 400, error: 'invalid_grant', description: 'AADSTS700082: The refresh token has expired due to inactivity. The token was issued on 2026-06-01T10:00:00.0000000Z and was inactive for 90.00:00:00.' },
  'aadsts70008': { status: 400, error: 'invalid_grant', description: 'AADSTS70008: The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.' },
  'aadsts90002': { status: 400, error: 'invalid_request', description: "AADSTS90002: Tenant 'acme.onmicrosoft.con' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant." },
  'aadsts7000218': { status: 401, error: 'invalid_client', description: "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'." },
  'aadsts53003': { status: 400, error: 'invalid_grant', description: 'AADSTS53003: Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.' },
  'aadsts70011': { status: 400, error: 'invalid_scope', description: "AADSTS70011: The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope https://outlook.office365.com/SMTP.Sendx is not valid." },
  'aadsts50126': { status: 400, error: 'invalid_grant', description: 'AADSTS50126: Error validating credentials due to invalid username or password.' },
  'invalid-request': { status: 400, error: 'invalid_request', description: 'Request is malformed or invalid.' },
  'google-revoked': { status: 400, error: 'invalid_grant', description: 'Token has been expired or revoked.' },
};

export async function startEntraFixture(cert: TestCert): Promise<{ authority: string; close(): Promise<void> }> {
  let base = '';
  const server: Server = createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    const url = new URL(req.url ?? '/', base);
    if (url.pathname === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ issuer: base, token_endpoint: `${base}/token`, authorization_endpoint: `${base}/authorize`, jwks_uri: `${base}/keys`, response_types_supported: ['code'], subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'] }));
    }
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const clientId = new URLSearchParams(body).get('client_id') ?? '';
      const error = entraErrors[clientId] ?? entraErrors['invalid-request']!;
      const trace = '0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6';
      res.writeHead(error.status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({
        error: error.error,
        error_description: `${error.description}\r\nTrace ID: ${trace}\r\nCorrelation ID: 9a8b7c6d-5e4f-3a2b-1c0d-ef0123456789\r\nTimestamp: 2026-11-27 10:00:00Z`,
        error_codes: [Number(/AADSTS(\d+)/.exec(error.description)?.[1] ?? 0)],
        timestamp: '2026-11-27 10:00:00Z',
        trace_id: trace,
        correlation_id: '9a8b7c6d-5e4f-3a2b-1c0d-ef0123456789',
        error_uri: 'https://login.microsoftonline.com/error?code=7000222',
      }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  base = `https://localhost:${(server.address() as { port: number }).port}`;
  return { authority: base, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
