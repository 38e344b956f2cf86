import type { CatalogEntry, FailureFacts } from './diagnosis.js';

const where = (f: FailureFacts) => (f.host ? `${f.host}${f.port ? `:${f.port}` : ''}` : 'the server');
const mail: CatalogEntry['areas'] = ['smtp', 'imap', 'pop3', 'graph'];

/** Network and TLS entries: shared by SMTP, IMAP and POP3. */
export const connectionEntries: CatalogEntry[] = [
  {
    id: 'dns-not-found', areas: mail, codes: ['ENOTFOUND', 'EAI_AGAIN', 'EDNS'],
    diagnose: (f) => ({ cause: `The host name ${f.host ?? ''} does not resolve (DNS).`, fix: 'Check the spelling of the host name, and that this machine can resolve it (try: getent hosts HOST).' }),
  },
  {
    id: 'connection-refused', areas: mail, codes: ['ECONNREFUSED'],
    diagnose: (f) => ({
      cause: `Nothing accepts connections on ${where(f)}: the port is closed, or the service is down.`,
      fix: 'Check the host and port (SMTP: 587 with STARTTLS, 465 with TLS, 25 plain; IMAP: 993 TLS, 143; POP3: 995 TLS, 110) and that the server is running.',
    }),
  },
  {
    id: 'network-unreachable', areas: mail, codes: ['EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL'],
    diagnose: (f) => ({ cause: `No route to ${where(f)}.`, fix: 'Check the network path from this machine (VPN, routing, outbound firewall).' }),
  },
  {
    id: 'connect-timeout', areas: mail, when: (f) => f.phase === 'connect' && (f.kind === 'ETIMEDOUT' || /timed? ?out/i.test(f.text)),
    diagnose: (f) => ({
      cause: `Connecting to ${where(f)} timed out: packets are being dropped, usually by a firewall.`,
      fix: 'Check that outbound connections to this port are allowed (many hosting providers block port 25), and the host and port.',
    }),
  },
  {
    id: 'greeting-timeout', areas: mail, when: (f) => f.phase === 'greeting' && (f.kind === 'ETIMEDOUT' || /timeout|never received/i.test(f.text)),
    diagnose: (f) => ({
      cause: `${where(f)} accepted the connection but never sent its greeting.`,
      fix: 'The security mode probably does not match the port: port 465 (and 993/995) expect TLS from the first byte; 587, 143 and 110 expect plain text then STARTTLS. Or the port belongs to another service.',
      command: 'mailctl configure server',
    }),
  },
  {
    id: 'tls-wrong-version', areas: mail, pattern: /wrong version number|packet length too long|unknown protocol|EPROTO/i,
    diagnose: (f) => ({
      cause: `TLS was started but ${where(f)} did not answer in TLS: this port speaks plain text (STARTTLS), not TLS from the start.`,
      fix: 'Use security STARTTLS on this port, or the TLS port (465 for SMTP, 993 for IMAP, 995 for POP3).',
      command: 'mailctl configure server',
    }),
  },
  {
    id: 'tls-self-signed', areas: mail, codes: ['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN'], pattern: /self[- ]signed certificate/i,
    diagnose: (f) => ({
      cause: `${where(f)} presents a self-signed certificate, which is not trusted.`,
      fix: 'Best: give the server a certificate from a trusted CA, or trust its CA with --tls-ca FILE. If you accept the risk for this server only, --tls-skip-verify turns verification off for it (and doctor will keep reminding you).',
    }),
  },
  {
    id: 'tls-untrusted-issuer', areas: mail, codes: ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED'],
    diagnose: (f) => ({
      cause: `The certificate of ${where(f)} is signed by a CA this machine does not trust, or the server omits an intermediate certificate.`,
      fix: 'Have the server send its full chain, or trust the company CA with --tls-ca FILE (or NODE_EXTRA_CA_CERTS).',
    }),
  },
  {
    id: 'tls-hostname-mismatch', areas: mail, codes: ['ERR_TLS_CERT_ALTNAME_INVALID'], pattern: /Hostname\/IP does not match certificate/i,
    diagnose: (f) => ({ cause: `The certificate of ${where(f)} is for another name.`, fix: 'Use the host name the certificate was issued for (the provider\'s documented host, not an IP address or alias).' }),
  },
  {
    id: 'tls-expired', areas: mail, codes: ['CERT_HAS_EXPIRED'], pattern: /certificate has expired/i,
    diagnose: (f) => ({ cause: `The certificate of ${where(f)} has expired (or this machine's clock is wrong).`, fix: 'Renew the server certificate; check this machine\'s date and time.' }),
  },
  {
    id: 'connection-reset', areas: mail, codes: ['ECONNRESET', 'EPIPE'],
    diagnose: (f) => ({ cause: `${where(f)} closed the connection abruptly.`, fix: 'The server or a firewall in between dropped the connection; check the server log, and the security mode for the port.' }),
  },
];

/** Things SMTP servers (and Microsoft 365 and Gmail in particular) say. */
export const smtpEntries: CatalogEntry[] = [
  {
    id: 'smtp-starttls-unsupported', areas: ['smtp'], when: (f) => f.phase === 'tls' && /STARTTLS/i.test(f.text),
    diagnose: (f) => ({
      cause: `STARTTLS is required for this server, but ${where(f)} does not offer it.`,
      fix: 'Use the server\'s TLS port (465) with security TLS, or ask the mail admin to enable STARTTLS. Choosing security "none" sends the password in clear.',
      command: 'mailctl configure server',
    }),
  },
  {
    id: 'smtp-530-starttls-first', areas: ['smtp'], pattern: /\b530[ -]5\.7\.0\b.*STARTTLS|Must issue a STARTTLS command first/i,
    diagnose: () => ({ cause: 'The server wants STARTTLS before anything else.', fix: 'Set security to STARTTLS.', command: 'mailctl configure server --security starttls' }),
  },
  {
    id: 'smtp-535-5.7.139', areas: ['smtp'], pattern: /5\.7\.139/,
    diagnose: () => ({
      cause: 'Microsoft 365 has SMTP AUTH (authenticated client submission) switched off for this tenant or mailbox.',
      fix: 'In Exchange Online, enable it for the sending mailbox: Set-CASMailbox -Identity <mailbox> -SmtpClientAuthenticationDisabled $false (and check the tenant-wide setting and Security Defaults). Or send through Microsoft Graph instead.',
    }),
  },
  {
    id: 'smtp-535-5.7.3', areas: ['smtp'], pattern: /\b535[ -]5\.7\.3\b/,
    diagnose: () => ({
      cause: 'Microsoft 365 refused the login (5.7.3 Authentication unsuccessful): wrong user name or password, or for OAuth a token the mailbox does not accept.',
      fix: 'Check the user name (the full mailbox address) and password. With OAuth: the app needs the SMTP.Send permission with admin consent, and its service principal must be registered in Exchange Online with access to the mailbox.',
      command: 'mailctl reset-oauth outbound',
    }),
  },
  {
    id: 'gmail-534-5.7.9', areas: ['smtp', 'imap', 'pop3'], pattern: /534[- ]5\.7\.9|Application-specific password required/i,
    diagnose: () => ({
      cause: 'Gmail wants an app password (or OAuth): the account has 2-Step Verification, so the normal password is refused.',
      fix: 'Create an app password in the Google account (Security → App passwords) and use it, or switch the server to OAuth 2.0 with provider google.',
      command: 'mailctl configure server --auth oauth2 --oauth-provider google',
    }),
  },
  {
    id: 'gmail-535-5.7.8', areas: ['smtp'], pattern: /535[- ]5\.7\.8|Username and Password not accepted/i,
    diagnose: () => ({
      cause: 'Gmail did not accept the user name and password.',
      fix: 'Use the full Gmail address and an app password (not the account password), or OAuth 2.0 with provider google.',
      command: 'mailctl configure server',
    }),
  },
  {
    id: 'gmail-534-5.7.14', areas: ['smtp', 'imap'], pattern: /5\.7\.14|Please log in (via|with) your web browser/i,
    diagnose: () => ({ cause: 'Google blocked the sign-in and wants the user to sign in through a browser first.', fix: 'Sign in to the account in a browser, confirm the blocked sign-in, then try again; or use OAuth 2.0.' }),
  },
  {
    id: 'smtp-auth-not-offered', areas: ['smtp'], pattern: /Unknown authentication method|AUTH not (available|supported)|503 5\.5\.1 .*AUTH/i,
    diagnose: () => ({ cause: 'The server offers no login method on this connection (often only after STARTTLS).', fix: 'Use STARTTLS or TLS so the server offers AUTH, or set auth to none if the server relays for this host.', command: 'mailctl configure server' }),
  },
  {
    id: 'smtp-auth-failed', areas: ['smtp'], when: (f) => f.phase === 'auth' && (f.responseCode === 535 || f.responseCode === 534 || /authentication|credentials|Invalid login/i.test(f.text)),
    diagnose: () => ({ cause: 'The server refused the login: user name or password (or token) is wrong.', fix: 'Check the user name and type the password again.', command: 'mailctl configure server' }),
  },
  {
    id: 'smtp-send-as-denied', areas: ['smtp'], pattern: /SendAsDenied|5\.2\.252|not (allowed|authorized|permitted) to send as|Sender address rejected: not owned by user|5\.7\.60/i,
    diagnose: () => ({
      cause: 'The logged-in account may not send with this from-address.',
      fix: 'Use the mailbox\'s own address as from-address, or grant it "Send As" rights for the address you want.',
      command: 'mailctl configure server --from ADDRESS',
    }),
  },
  {
    id: 'smtp-relay-denied', areas: ['smtp'], pattern: /Relay access denied|relaying denied|5\.7\.1 .*relay|Unable to relay|not permitted to relay/i,
    diagnose: () => ({ cause: 'The server will not relay mail for this client.', fix: 'Log in (auth password or OAuth), or have the mail admin allow this host to relay.', command: 'mailctl configure server' }),
  },
  {
    id: 'smtp-sender-rejected', areas: ['smtp'], when: (f) => f.phase === 'sender' && (f.responseCode ?? 0) >= 500,
    diagnose: () => ({ cause: 'The server refused the sender address (MAIL FROM).', fix: 'Use an address in a domain this server sends for, normally the login mailbox.', command: 'mailctl configure server --from ADDRESS' }),
  },
  {
    id: 'smtp-recipient-unknown', areas: ['smtp'], pattern: /5\.1\.1|User unknown|mailbox unavailable|Recipient address rejected|no such user|does not exist/i,
    when: (f) => f.phase === 'recipient',
    diagnose: () => ({ cause: 'The server refused the recipient: the address does not exist or is not accepted here.', fix: 'Check the recipient address for typos; for external recipients the server may also need you to log in.' }),
  },
  {
    id: 'smtp-size-exceeded', areas: ['smtp'], pattern: /\b552\b|5\.3\.4|message (size )?exceeds|too (big|large)|size larger than allowed/i,
    diagnose: () => ({
      cause: 'The message is larger than the server accepts.',
      fix: 'Send smaller attachments, and set max_attachment_size below the server\'s limit so such mail is refused before it is queued.',
      command: 'mailctl config set max_attachment_size 10MB',
    }),
  },
  {
    id: 'smtp-policy-rejected', areas: ['smtp'], pattern: /\b554[ -]5\.7\.\d+|spam|blocked|blacklist|policy/i,
    diagnose: () => ({ cause: 'The server rejected the message for policy (spam filter, block list, DMARC/SPF).', fix: 'Read the server\'s words for the rule it applied; check SPF/DKIM/DMARC for the from-address domain.' }),
  },
  {
    id: 'smtp-temporary', areas: ['smtp'], when: (f) => (f.responseCode ?? 0) >= 400 && (f.responseCode ?? 0) < 500,
    diagnose: () => ({ cause: 'The server answered with a temporary failure (4xx).', fix: 'Nothing is wrong with mailctl\'s settings; the daemon retries queued mail every outbound_retry_interval. If it persists, check the server.', command: 'mailctl queue list' }),
  },
];
