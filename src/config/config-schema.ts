import { globalDefinitions } from './globals.js';
import { outboundSchema, type OutboundConfig } from '../outbound/outbound-config.js';
import { inboundAccountSchema, type InboundAccount } from '../inbound/inbound-config.js';

export type Environment = 'production' | 'test' | 'dev';

/** The KB this installation serves. */
export interface KbConfig {
  name: string;
  url: string;
  environment: Environment;
  /** Ids of every reference key ever made, oldest first; all still decode. */
  refKeyIds: string[];
  /** The key id new references are sealed with. */
  activeRefKeyId: string;
  createdAt: string;
}

/** Everything in config.json. Secrets are never here: only `${secret:ID}` references. */
export interface MailctlConfig {
  version?: 1;
  /** Namespaces this installation's keyring entries. */
  installationId?: string;
  /** The secret backend chosen on first use, so a later run never silently switches. */
  secretBackend?: 'keyring' | 'file';
  kb?: KbConfig;
  globals?: Record<string, string>;
  outbound?: Partial<OutboundConfig>;
  inbound?: Record<string, InboundAccount>;
}

/** conf's `schema` option: one JSON schema per top-level key (draft 2020-12). */
export const configSchema = {
  version: { type: 'integer', const: 1 },
  installationId: { type: 'string', pattern: '^[0-9a-f-]{8,64}$' },
  secretBackend: { enum: ['keyring', 'file'] },
  kb: {
    type: 'object',
    required: ['name', 'url', 'environment', 'refKeyIds', 'activeRefKeyId', 'createdAt'],
    additionalProperties: false,
    properties: {
      name: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' },
      url: { type: 'string', pattern: '^https?://\\S+$' },
      environment: { enum: ['production', 'test', 'dev'] },
      refKeyIds: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^k[0-9]+$' } },
      activeRefKeyId: { type: 'string', pattern: '^k[0-9]+$' },
      createdAt: { type: 'string' },
    },
  },
  globals: {
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(globalDefinitions.map((d) => [d.name, { type: 'string' }])),
  },
  outbound: outboundSchema,
  inbound: { type: 'object', additionalProperties: inboundAccountSchema },
} as const;

/** Top-level keys that are not in the schema are a typo or a newer mailctl's: refuse them. */
export const configRootSchema = { additionalProperties: false } as const;
