import { describe, expect, it } from 'vitest';
import { diagnose } from '../../src/diagnosis/diagnose.js';
import type { FailureFacts } from '../../src/diagnosis/diagnosis.js';

// What IMAP/POP3 servers (Dovecot, Exchange Online, Gmail) and Graph really say.
const cases: Array<[string, FailureFacts, string]> = [
  ['imap-auth-failed', { area: 'imap', phase: 'auth', text: 'Command failed: A1 NO [AUTHENTICATIONFAILED] Authentication failed.', detailCode: 'AUTHENTICATIONFAILED' }, 'refused the login'],
  ['imap-auth-failed', { area: 'imap', phase: 'auth', text: 'A1 NO AUTHENTICATE failed.' }, 'OAuth 2.0'],
  ['imap-auth-failed', { area: 'imap', phase: 'auth', text: 'a2 NO LOGIN failed.' }, 'user name'],
  ['pop3-auth-failed', { area: 'pop3', phase: 'auth', text: 'The POP3 server refused the login: -ERR [AUTH] Authentication failed.' }, '-ERR'],
  ['folder-not-found', { area: 'imap', phase: 'folder', text: 'The folder does not exist: Mailbox doesn\'t exist: Contracts', detailCode: 'NONEXISTENT' }, 'does not exist'],
  ['folder-not-found', { area: 'pop3', phase: 'folder', text: 'POP3 reaches only the INBOX, not "Archive".' }, 'POP3 has only the INBOX'],
  ['graph-access-denied', { area: 'graph', phase: 'auth', responseCode: 403, host: 'graph.microsoft.com', text: 'ErrorAccessDenied: Access is denied. Check credentials and try again. GET https://graph.microsoft.com/v1.0/users/x@acme.test/mailFolders/inbox 403 : Forbidden' }, 'Able to contact graph.microsoft.com'],
  ['graph-token-rejected', { area: 'graph', phase: 'auth', responseCode: 401, text: 'InvalidAuthenticationToken: Access token has expired or is not yet valid.' }, 'graph.microsoft.com/.default'],
  ['graph-mailbox-not-found', { area: 'graph', phase: 'folder', responseCode: 404, text: "ErrorInvalidUser: The requested user 'x@acme.test' is invalid." }, 'mailbox address'],
  ['folder-not-found', { area: 'graph', phase: 'folder', responseCode: 404, text: 'ErrorItemNotFound: The specified object was not found in the store.' }, 'folder'],
  ['graph-throttled', { area: 'graph', phase: 'list', responseCode: 429, text: 'ApplicationThrottled: Application is over its MailboxConcurrency limit.' }, 'Retry-After'],
  ['starttls-unavailable', { area: 'imap', phase: 'tls', detailCode: 'STARTTLS_UNAVAILABLE', text: 'S1 BAD Unknown command' }, 'does not offer it'],
  ['connection-refused', { area: 'pop3', phase: 'connect', detailCode: 'ECONNREFUSED', text: 'connect ECONNREFUSED 127.0.0.1:995' }, 'Nothing accepts'],
  ['tls-self-signed', { area: 'imap', phase: 'tls', detailCode: 'DEPTH_ZERO_SELF_SIGNED_CERT', text: 'self-signed certificate' }, 'self-signed'],
  ['inbound-greeting-timeout', { area: 'imap', phase: 'greeting', detailCode: 'ETIMEDOUT', text: 'no answer from the server within 5000 ms' }, 'sent no greeting'],
];

describe('the diagnosis catalog: inbound entries', () => {
  for (const [id, facts, words] of cases) {
    it(`${id}: ${facts.text.slice(0, 50)}`, () => {
      const d = diagnose(facts);
      expect(d.id).toBe(id);
      expect(`${d.cause} ${d.fix}`).toContain(words);
    });
  }
});
