import { authSchema, type OAuthAccountFields, type PasswordAccountFields } from '../auth/oauth-account.js';
import type { SmtpSecurity } from '../outbound/smtp-session.js';

export type InboundProtocol = 'imap' | 'pop3' | 'graph';
export type UnknownSenderPolicy = 'ignore' | 'reject' | 'guest';
export type NotesContent = 'new-text' | 'whole-body';
/** What happens to a message in the mailbox once its rows are committed. */
export type AfterProcessing = 'mark-read' | 'move' | 'delete' | 'keep';

export type InboundAuth = ({ type: 'password' } & PasswordAccountFields) | ({ type: 'oauth2' } & OAuthAccountFields);

/** One inbound account; there is at most one per table (config.json `inbound.<table>`). */
export interface InboundAccount {
  table: string;
  protocol: InboundProtocol;
  /** IMAP/POP3 server; for Graph the API base URL's host is used for reachability. */
  host: string;
  port: number;
  security: SmtpSecurity;
  tlsSkipVerify?: boolean;
  tlsCa?: string;
  auth: InboundAuth;
  /** Graph: API base (default https://graph.microsoft.com/v1.0) and the mailbox address. */
  graphBaseUrl?: string;
  mailbox?: string;
  folder: string;
  allowRecordCreation: boolean;
  unknownSender: UnknownSenderPolicy;
  /** The guest contact's address, when unknownSender is "guest". */
  guestContact?: string;
  notes: NotesContent;
  afterProcessing: AfterProcessing;
  /** Destination folder when afterProcessing is "move". */
  moveTo?: string;
  properties?: string;
  enabled: boolean;
  updatedAt?: string;
}

export const defaultGraphBaseUrl = 'https://graph.microsoft.com/v1.0';

/** The usual port for a protocol and security mode. */
export function defaultInboundPort(protocol: InboundProtocol, security: SmtpSecurity): number {
  if (protocol === 'graph') return 443;
  if (protocol === 'imap') return security === 'tls' ? 993 : 143;
  return security === 'tls' ? 995 : 110;
}

/** Which after-processing actions a protocol supports (POP3 has no flags or folders). */
export function afterProcessingChoices(protocol: InboundProtocol): AfterProcessing[] {
  return protocol === 'pop3' ? ['keep', 'delete'] : ['mark-read', 'move', 'delete'];
}

/** JSON schema for one account under `inbound` in config.json. */
export const inboundAccountSchema = {
  type: 'object',
  required: ['table', 'protocol', 'host', 'port', 'security', 'auth', 'folder', 'allowRecordCreation', 'unknownSender', 'notes', 'afterProcessing', 'enabled'],
  additionalProperties: false,
  properties: {
    table: { type: 'string' },
    protocol: { enum: ['imap', 'pop3', 'graph'] },
    host: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    security: { enum: ['tls', 'starttls', 'none'] },
    tlsSkipVerify: { type: 'boolean' },
    tlsCa: { type: 'string' },
    graphBaseUrl: { type: 'string' },
    mailbox: { type: 'string' },
    folder: { type: 'string', minLength: 1 },
    allowRecordCreation: { type: 'boolean' },
    unknownSender: { enum: ['ignore', 'reject', 'guest'] },
    guestContact: { type: 'string' },
    notes: { enum: ['new-text', 'whole-body'] },
    afterProcessing: { enum: ['mark-read', 'move', 'delete', 'keep'] },
    moveTo: { type: 'string' },
    properties: { type: 'string' },
    enabled: { type: 'boolean' },
    updatedAt: { type: 'string' },
    auth: { ...authSchema(['password', 'oauth2']), required: ['type', 'username'] },
  },
} as const;
