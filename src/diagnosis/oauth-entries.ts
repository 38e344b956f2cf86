import type { CatalogEntry } from './diagnosis.js';

const areas: CatalogEntry['areas'] = ['oauth', 'smtp', 'imap', 'pop3', 'graph'];
const reset = 'mailctl reset-oauth outbound   (or: mailctl reset-oauth inbound TABLE)';

/** What Microsoft Entra ID, Google and other identity providers say, and what to do. */
export const oauthEntries: CatalogEntry[] = [
  {
    id: 'aadsts65001-no-consent', areas, pattern: /AADSTS65001|has not consented/i,
    diagnose: () => ({
      cause: 'Admin consent was not granted for the application\'s permissions in Entra ID (AADSTS65001: the user or administrator has not consented).',
      fix: 'In the Entra admin center open App registrations → the app → API permissions, and choose "Grant admin consent for <tenant>". Then reset the token.',
      command: reset,
    }),
  },
  {
    id: 'aadsts7000215-wrong-secret', areas, pattern: /AADSTS7000215|Invalid client secret provided/i,
    diagnose: () => ({
      cause: 'The client secret is wrong (AADSTS7000215). Most often the secret\'s ID (a GUID) was pasted instead of its value.',
      fix: 'In Entra ID → the app → Certificates & secrets, copy the secret\'s Value (shown once, when it is created), not its Secret ID, and store it everywhere it is used.',
      command: 'mailctl rotate-secret',
    }),
  },
  {
    id: 'aadsts7000222-expired-secret', areas, pattern: /AADSTS7000222|client secret keys .* are expired/i,
    diagnose: () => ({
      cause: 'The application\'s client secret has expired (AADSTS7000222).',
      fix: 'Create a new client secret in Entra ID (Certificates & secrets → New client secret), then replace it in every place it is stored: rotate-secret finds all of them, outbound and inbound.',
      command: 'mailctl rotate-secret',
    }),
  },
  {
    id: 'aadsts700016-app-not-found', areas, pattern: /AADSTS700016|Application with identifier .* was not found/i,
    diagnose: () => ({
      cause: 'Entra ID does not know this client id in this tenant (AADSTS700016): a wrong client id, a wrong tenant, or the app is not installed in the tenant.',
      fix: 'Check the client (application) id and the tenant id or domain against the app registration\'s Overview page.',
      command: 'mailctl configure server',
    }),
  },
  {
    id: 'aadsts90002-tenant-not-found', areas, pattern: /AADSTS90002|Tenant .* not found/i,
    diagnose: () => ({ cause: 'The tenant does not exist (AADSTS90002): a typo in the tenant id or domain.', fix: 'Use the Directory (tenant) ID from the app registration\'s Overview page, or the tenant\'s .onmicrosoft.com domain.', command: 'mailctl configure server' }),
  },
  {
    id: 'token-expired-or-revoked', areas,
    pattern: /AADSTS50173|AADSTS700082|AADSTS70008\b|AADSTS70008:|(invalid_grant.*(expired|revoked))|Token has been expired or revoked|grant request is invalid|refresh token.*(expired|revoked|invalid)/i,
    diagnose: () => ({
      cause: 'The OAuth token has expired or was revoked: the mailbox user probably changed or reset the password, or the refresh token went unused for 90 days (AADSTS50173 / AADSTS700082 / AADSTS70008 / invalid_grant).',
      fix: 'Reset the OAuth token and sign in again as the mailbox user.',
      command: reset,
    }),
  },
  {
    id: 'aadsts50011-redirect-uri', areas, pattern: /AADSTS50011|redirect URI .* does not match/i,
    diagnose: () => ({
      cause: 'The redirect URI of the browser sign-in is not registered for the app (AADSTS50011).',
      fix: 'In Entra ID → the app → Authentication, add the platform "Mobile and desktop applications" with the redirect URI http://localhost (any port is accepted for loopback), or sign in with the device code instead (reset-oauth without --browser).',
      command: 'mailctl reset-oauth outbound',
    }),
  },
  {
    id: 'aadsts7000218-public-client', areas, pattern: /AADSTS7000218|must contain the following parameter: 'client_assertion' or 'client_secret'/i,
    diagnose: () => ({ cause: 'The app does not allow public client flows, which device-code sign-in needs (AADSTS7000218).', fix: 'In Entra ID → the app → Authentication → Advanced settings, set "Allow public client flows" to Yes.' }),
  },
  {
    id: 'aadsts50126-bad-credentials', areas, pattern: /AADSTS50126/,
    diagnose: () => ({ cause: 'The sign-in used a wrong user name or password (AADSTS50126).', fix: 'Sign in again as the mailbox user with the right password.', command: reset }),
  },
  {
    id: 'aadsts53003-conditional-access', areas, pattern: /AADSTS53003|Conditional Access/i,
    diagnose: () => ({ cause: 'A Conditional Access policy blocked the sign-in (AADSTS53003).', fix: 'Ask the Entra admin to exclude the mail service account or this app from the policy, or to allow this machine\'s location.' }),
  },
  {
    id: 'invalid-scope', areas, pattern: /AADSTS70011|invalid_scope/i,
    diagnose: () => ({ cause: 'The scope asked for is not valid for this app or resource (AADSTS70011 / invalid_scope).', fix: 'Leave the scope at mailctl\'s default (https://outlook.office365.com/.default for SMTP/IMAP/POP, https://graph.microsoft.com/.default for Graph, https://mail.google.com/ for Google), or fix --scope.' }),
  },
  {
    id: 'invalid-request', areas, pattern: /invalid_request|Request is malformed or invalid|AADSTS900144/i,
    diagnose: () => ({
      cause: 'The identity provider says the request is malformed or invalid: usually a stale or broken token after the account was changed (e.g. a password reset).',
      fix: 'Reset the OAuth token; if it persists, check the OAuth settings (tenant, client id, token URL).',
      command: reset,
    }),
  },
  {
    id: 'invalid-client', areas, pattern: /invalid_client|client authentication failed|unauthorized_client/i,
    diagnose: () => ({
      cause: 'The identity provider did not accept the client credentials: the client secret (or client id) is wrong, or the secret was replaced at the provider.',
      fix: 'Store the current secret value everywhere it is used.',
      command: 'mailctl rotate-secret',
    }),
  },
  {
    id: 'oauth-signin-needed', areas, codes: ['signin_required', 'E_OAUTH_NEEDS_PERSON'], pattern: /signin_required/,
    diagnose: () => ({ cause: 'This account uses delegated sign-in and nobody has signed in yet (or the sign-in was reset).', fix: 'Run reset-oauth on a terminal and sign in as the mailbox user.', command: reset }),
  },
  {
    id: 'idp-unreachable', areas: ['oauth'], pattern: /network_error|fetch failed|ECONNREFUSED|ENOTFOUND|endpoints_resolution_error/i,
    diagnose: () => ({ cause: 'The identity provider could not be reached (network, DNS, proxy, or a wrong authority URL).', fix: 'Check that this machine reaches login.microsoftonline.com (or the provider\'s token URL) over HTTPS; check proxy settings.' }),
  },
];

/** The mail server (not the identity provider) refused an OAuth token at login. */
export const mailboxRefusedToken: CatalogEntry = {
  id: 'mailbox-refused-token', areas: ['smtp', 'imap', 'pop3'],
  when: (f) => f.phase === 'auth' && f.authMethod === 'oauth2' && !/5\.7\.139|AADSTS/.test(f.text),
  diagnose: () => ({
    cause: 'The mail server refused the OAuth token: it expired or was revoked (a password change at the provider does this), or it lacks the mailbox permission.',
    fix: 'Reset the OAuth token so a new one is issued, then check again. If a fresh token is refused too, the app lacks the mailbox permission (Microsoft: the service principal must be granted access to the mailbox in Exchange Online).',
    command: reset,
  }),
};
