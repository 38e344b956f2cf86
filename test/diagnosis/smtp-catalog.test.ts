import { describe, expect, it } from 'vitest';
import { diagnose } from '../../src/diagnosis/diagnose.js';
import type { FailureFacts } from '../../src/diagnosis/diagnosis.js';

// What real servers say (Microsoft 365, Gmail, Postfix, Exchange), with the phase it came in.
const cases: Array<[string, Partial<FailureFacts>, string]> = [
  ['connection-refused', { phase: 'connect', kind: 'ESOCKET', detailCode: 'ECONNREFUSED', text: 'connect ECONNREFUSED 127.0.0.1:25' }, 'Nothing accepts connections'],
  ['dns-not-found', { phase: 'connect', kind: 'EDNS', detailCode: 'ENOTFOUND', text: 'getaddrinfo ENOTFOUND smtp.acme.tset' }, 'does not resolve'],
  ['connect-timeout', { phase: 'connect', kind: 'ETIMEDOUT', text: 'Connection timeout' }, 'firewall'],
  ['greeting-timeout', { phase: 'greeting', kind: 'ETIMEDOUT', text: 'Greeting never received' }, 'never sent its greeting'],
  ['tls-wrong-version', { phase: 'tls', kind: 'ESOCKET', detailCode: 'ERR_SSL_WRONG_VERSION_NUMBER', text: 'C0D7:error:0A00010B:SSL routines:ssl3_get_record:wrong version number' }, 'did not answer in TLS'],
  ['tls-self-signed', { phase: 'tls', kind: 'ESOCKET', detailCode: 'DEPTH_ZERO_SELF_SIGNED_CERT', text: 'self-signed certificate' }, 'self-signed'],
  ['tls-untrusted-issuer', { phase: 'tls', kind: 'ESOCKET', detailCode: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', text: 'unable to verify the first certificate' }, 'intermediate'],
  ['tls-hostname-mismatch', { phase: 'tls', kind: 'ESOCKET', detailCode: 'ERR_TLS_CERT_ALTNAME_INVALID', text: "Hostname/IP does not match certificate's altnames" }, 'for another name'],
  ['tls-expired', { phase: 'tls', kind: 'ESOCKET', detailCode: 'CERT_HAS_EXPIRED', text: 'certificate has expired' }, 'expired'],
  ['smtp-starttls-unsupported', { phase: 'tls', kind: 'ETLS', text: 'Error upgrading connection with STARTTLS: 502 5.5.2 Error: command not recognized' }, 'does not offer it'],
  ['smtp-530-starttls-first', { phase: 'sender', responseCode: 530, text: '530 5.7.0 Must issue a STARTTLS command first' }, 'STARTTLS before anything'],
  ['smtp-535-5.7.139', { phase: 'auth', responseCode: 535, text: '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.' }, 'SMTP AUTH'],
  ['smtp-535-5.7.3', { phase: 'auth', responseCode: 535, text: '535 5.7.3 Authentication unsuccessful [AM0PR02CA0123.eurprd02.prod.outlook.com]' }, 'SMTP.Send'],
  ['gmail-534-5.7.9', { phase: 'auth', responseCode: 534, text: '534-5.7.9 Application-specific password required. For more information, go to\n534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor' }, 'app password'],
  ['gmail-535-5.7.8', { phase: 'auth', responseCode: 535, text: '535-5.7.8 Username and Password not accepted. For more information, go to\n535 5.7.8  https://support.google.com/mail/?p=BadCredentials' }, 'did not accept'],
  ['smtp-auth-failed', { phase: 'auth', responseCode: 535, text: 'Invalid login: 535 Authentication credentials invalid' }, 'refused the login'],
  ['smtp-send-as-denied', { phase: 'after-data', responseCode: 554, text: '554 5.2.252 SendAsDenied; records@acme.test not allowed to send as ceo@acme.test' }, 'may not send with this from-address'],
  ['smtp-relay-denied', { phase: 'recipient', responseCode: 554, text: '554 5.7.1 <pat@elsewhere.test>: Relay access denied' }, 'will not relay'],
  ['smtp-recipient-unknown', { phase: 'recipient', responseCode: 550, text: '550 5.1.1 <nobody@acme.test>: Recipient address rejected: User unknown in virtual mailbox table' }, 'does not exist'],
  ['smtp-size-exceeded', { phase: 'after-data', responseCode: 552, text: '552 5.3.4 Message size exceeds fixed maximum message size' }, 'larger than the server accepts'],
  ['smtp-policy-rejected', { phase: 'after-data', responseCode: 554, text: '554 5.7.1 Message rejected as spam by Content Filtering' }, 'policy'],
  ['smtp-temporary', { phase: 'recipient', responseCode: 451, text: '451 4.3.0 Temporary lookup failure' }, 'temporary'],
  ['gmail-534-5.7.14', { phase: 'auth', responseCode: 534, text: '534-5.7.14 <https://accounts.google.com/signin/continue?sarp=1> Please log in via your web browser and\n534 5.7.14 then try again.' }, 'browser'],
  ['smtp-auth-not-offered', { phase: 'auth', kind: 'EAUTH', text: 'Unknown authentication method "PLAIN"' }, 'offers no login method'],
  ['smtp-sender-rejected', { phase: 'sender', responseCode: 553, text: '553 5.1.8 <records@acme.invalid>: Sender address rejected: Domain not found' }, 'refused the sender'],
  ['network-unreachable', { phase: 'connect', kind: 'ESOCKET', detailCode: 'EHOSTUNREACH', text: 'connect EHOSTUNREACH 10.1.2.3:587' }, 'No route'],
  ['connection-reset', { phase: 'data', kind: 'ECONNECTION', detailCode: 'ECONNRESET', text: 'read ECONNRESET' }, 'closed the connection abruptly'],
  ['from-missing', { area: 'presend', kind: 'E_FROM_MISSING', text: 'no from-address' }, 'field that can be empty'],
  ['attachments-too-large', { area: 'presend', kind: 'E_ATTACHMENTS_TOO_LARGE', text: '' }, 'max_attachment_size'],
  ['body-too-large', { area: 'presend', kind: 'E_BODY_TOO_LARGE', text: '' }, 'max_body_size'],
  ['server-size-limit', { area: 'presend', kind: 'E_SERVER_SIZE', text: '' }, 'SIZE limit'],
];

describe('the diagnosis catalog: SMTP, connection, TLS and pre-send entries', () => {
  for (const [id, facts, words] of cases) {
    it(`${id}`, () => {
      const diagnosis = diagnose({ area: 'smtp', text: '', ...facts } as FailureFacts);
      expect(diagnosis.id).toBe(id);
      expect(`${diagnosis.cause} ${diagnosis.fix}`).toContain(words);
    });
  }

  it('says honestly when it does not know, and points to doctor', () => {
    expect(diagnose({ area: 'smtp', phase: 'after-data', text: '299 something odd' })).toMatchObject({ id: 'unknown', command: 'mailctl doctor' });
  });
});
