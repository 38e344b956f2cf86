import type { CatalogEntry } from './diagnosis.js';

/** What IMAP and POP3 servers and Microsoft Graph say about inbound accounts. */
export const inboundEntries: CatalogEntry[] = [
  {
    id: 'graph-access-denied', areas: ['graph'], pattern: /ErrorAccessDenied|Access is denied/i,
    diagnose: (f) => ({
      cause: `Able to contact ${f.host ?? 'Microsoft Graph'}, but unable to establish successful email communication: communication was established with the server, but the mailbox has not granted this application access (ErrorAccessDenied, HTTP 403).`,
      fix: 'Grant the app access to this mailbox with Exchange Online PowerShell (an application access policy or RBAC for Applications scoped to the mailbox), and check that the app has the Mail.ReadWrite application permission with admin consent. Then run test-inbound again.',
    }),
  },
  {
    id: 'graph-token-rejected', areas: ['graph'], when: (f) => f.responseCode === 401 || /InvalidAuthenticationToken|HTTP 401/.test(f.text),
    diagnose: () => ({
      cause: 'Microsoft Graph refused the access token (HTTP 401): it expired, was revoked, or was issued for another resource.',
      fix: 'Get a new token. For Graph the scope must be https://graph.microsoft.com/.default.',
      command: 'mailctl reset-oauth inbound TABLE',
    }),
  },
  {
    id: 'graph-mailbox-not-found', areas: ['graph'], pattern: /ErrorInvalidUser|MailboxNotEnabledForRESTAPI|ResourceNotFound.*user|ErrorNonExistentMailbox/i,
    diagnose: () => ({ cause: 'Graph does not know this mailbox address (or it has no Exchange Online mailbox).', fix: 'Check the mailbox address; shared mailboxes need their own address, not a user\'s.' }),
  },
  {
    id: 'graph-throttled', areas: ['graph'], pattern: /ApplicationThrottled|throttl|HTTP 429/i,
    diagnose: () => ({ cause: 'Microsoft Graph is throttling requests for this mailbox or app.', fix: 'Nothing is lost: the daemon waits as Graph asks (Retry-After) and polls again. If it persists, poll less often.', command: 'mailctl config set inbound_check_frequency 5m' }),
  },
  {
    id: 'folder-not-found', areas: ['imap', 'pop3', 'graph'], pattern: /NONEXISTENT|does not exist|doesn't exist|Mailbox not found|ErrorItemNotFound|folder.*not found|only the INBOX/i,
    diagnose: () => ({ cause: 'The folder set for this account does not exist in the mailbox (names are case-sensitive on some servers; POP3 has only the INBOX).', fix: 'Pick an existing folder (the wizard lists them), or create it in the mailbox.', command: 'mailctl configure inbound TABLE' }),
  },
  {
    id: 'imap-auth-failed', areas: ['imap'], pattern: /AUTHENTICATIONFAILED|AUTHENTICATE failed|LOGIN failed|Invalid credentials|authentication failed/i,
    diagnose: () => ({
      cause: 'The IMAP server refused the login (AUTHENTICATE/LOGIN failed): wrong user name or password, or for OAuth a token the mailbox does not accept.',
      fix: 'Check the user name (usually the full address) and the password. Microsoft 365: basic auth is off, use OAuth 2.0 with IMAP.AccessAsUser.All or the Exchange app permission. Gmail: an app password or OAuth.',
      command: 'mailctl configure inbound TABLE',
    }),
  },
  {
    id: 'pop3-auth-failed', areas: ['pop3'], pattern: /^-ERR|refused the (login|user name|OAuth login)/im,
    when: (f) => f.phase === 'auth',
    diagnose: () => ({ cause: 'The POP3 server refused the login (-ERR).', fix: 'Check the user name and password; some servers also need POP3 enabled for the mailbox.', command: 'mailctl configure inbound TABLE' }),
  },
  {
    id: 'starttls-unavailable', areas: ['imap', 'pop3'], codes: ['STARTTLS_UNAVAILABLE'],
    diagnose: () => ({ cause: 'STARTTLS is required for this account, but the server does not offer it.', fix: 'Use the TLS port (993 IMAP, 995 POP3) with security TLS, or have the server enable STARTTLS.', command: 'mailctl configure inbound TABLE' }),
  },
  {
    id: 'inbound-greeting-timeout', areas: ['imap', 'pop3'], when: (f) => f.phase === 'greeting' && /ETIMEDOUT|timed out|no answer/i.test(`${f.detailCode ?? ''} ${f.text}`),
    diagnose: (f) => ({ cause: `${f.host ?? 'The server'}${f.port ? `:${f.port}` : ''} accepted the connection but sent no greeting.`, fix: 'The security mode probably does not match the port: 993/995 expect TLS from the first byte, 143/110 plain text with STARTTLS.' }),
  },
];
