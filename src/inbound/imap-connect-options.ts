import type { MailboxConnection } from './mail-source.js';

/** imapflow's options for reaching and logging in to a mailbox (the part every IMAP connection of mailctl shares). */
export interface ImapConnectOptions {
  host: string;
  port: number;
  secure: boolean;
  doSTARTTLS: boolean | undefined;
  auth: { user: string; pass: string } | { user: string; accessToken: string };
  tls: { rejectUnauthorized: boolean; ca?: string };
  connectionTimeout: number;
  greetingTimeout: number;
}

/**
 * How imapflow reaches and logs in to `o`: implicit TLS, STARTTLS required, or plain (never
 * an opportunistic downgrade); certificate checks on unless the account turns them off, with
 * its own CA; the TCP connect and the greeting each within `o.timeoutMs`. A password logs in
 * with LOGIN/PLAIN, an access token with XOAUTH2 (imapflow's `accessToken`).
 */
export function imapConnectOptions(o: MailboxConnection): ImapConnectOptions {
  return {
    host: o.host,
    port: o.port,
    secure: o.security === 'tls',
    doSTARTTLS: o.security === 'starttls' ? true : o.security === 'none' ? false : undefined,
    auth: { user: o.user, ...o.credential },
    tls: { rejectUnauthorized: !o.tlsSkipVerify, ...(o.tlsCa ? { ca: o.tlsCa } : {}) },
    connectionTimeout: o.timeoutMs,
    greetingTimeout: o.timeoutMs,
  };
}
