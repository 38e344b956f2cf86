import type { SmtpSecurity } from './smtp-session.js';
import { authSchema, type OAuthAccountFields, type PasswordAccountFields } from '../auth/oauth-account.js';

export type { OAuthProvider } from '../auth/oauth-account.js';

export type OutboundAuth =
  | { type: 'none' }
  | ({ type: 'password' } & PasswordAccountFields)
  | ({ type: 'oauth2' } & OAuthAccountFields);

/** The one server that sends all mail (stored under `outbound` in config.json). */
export interface OutboundConfig {
  host: string;
  port: number;
  security: SmtpSecurity;
  /** Turned on by the admin, for this server only, to accept an untrusted certificate. */
  tlsSkipVerify?: boolean;
  /** A CA certificate (PEM) to trust for this server. */
  tlsCa?: string;
  auth: OutboundAuth;
  from: string;
  /** Custom configuration properties (key=value text; secrets as references). */
  properties?: string;
  /** SMTP connections the queue opens at once to this server (default `defaultMaxConnections`); fewer while it throttles. */
  maxConnections?: number;
  /** Messages started per minute at most (a provider's cap, e.g. Microsoft 365's 30); unset: no limit. */
  maxPerMinute?: number;
  updatedAt?: string;
}

/**
 * Connections at once when the admin set none: Microsoft 365 allows three per mailbox ("Message
 * storage and concurrent connection throttling for SMTP Authenticated Submission"); more only
 * earn "432 4.3.2 Concurrent connections limit exceeded".
 */
export const defaultMaxConnections = 3;

/** Bounds of the two pacing settings (configure server checks them; the schema holds them too). */
export const maxConnectionsRange = { min: 1, max: 50 } as const;
export const maxPerMinuteRange = { min: 1, max: 100_000 } as const;

/** Host, port and security of well-known providers. */
export const outboundPresets = {
  microsoft365: { host: 'smtp.office365.com', port: 587, security: 'starttls' as SmtpSecurity },
  gmail: { host: 'smtp.gmail.com', port: 587, security: 'starttls' as SmtpSecurity },
} as const;
export type OutboundPreset = keyof typeof outboundPresets;

/** Default port for a security mode (submission ports). */
export function defaultPort(security: SmtpSecurity): number {
  return security === 'tls' ? 465 : security === 'starttls' ? 587 : 25;
}

/** JSON schema for `outbound` in config.json. */
export const outboundSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    host: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    security: { enum: ['tls', 'starttls', 'none'] },
    tlsSkipVerify: { type: 'boolean' },
    tlsCa: { type: 'string' },
    from: { type: 'string' },
    properties: { type: 'string' },
    maxConnections: { type: 'integer', minimum: maxConnectionsRange.min, maximum: maxConnectionsRange.max },
    maxPerMinute: { type: 'integer', minimum: maxPerMinuteRange.min, maximum: maxPerMinuteRange.max },
    updatedAt: { type: 'string' },
    auth: authSchema(['none', 'password', 'oauth2']),
  },
} as const;
