import { ExitCode, UsageError, UserError } from '../errors.js';
import { formatDuration, formatSize, parseDuration, parseSize } from './units.js';

/** The kinds of value a global variable holds, each with its own parser. */
export type GlobalKind = 'duration' | 'duration-or-forever' | 'size' | 'boolean' | 'email-or-empty' | 'count';

export interface GlobalDefinition {
  name: string;
  kind: GlobalKind;
  default: string;
  description: string;
  /** Inclusive bounds in the kind's base unit (ms or bytes), where it matters. */
  min?: number;
  max?: number;
}

/** The global variables from SPEC.md, with the source guide's defaults. */
export const globalDefinitions: readonly GlobalDefinition[] = [
  { name: 'inbound_check_frequency', kind: 'duration', default: '1m', min: 5_000, max: 86_400_000,
    description: 'how often each inbound account is polled' },
  { name: 'imap_full_sweep_interval', kind: 'duration', default: '45m', min: 60_000, max: 7 * 86_400_000,
    description: 'IMAP sweep that ignores the \\Seen flag; Graph: a full listing, its delta started over' },
  { name: 'outbound_retry_interval', kind: 'duration', default: '30m', min: 1_000, max: 86_400_000,
    description: 'time between attempts for a failed email' },
  { name: 'outbound_retry_lifetime', kind: 'duration', default: '5d', min: 60_000, max: 60 * 86_400_000,
    description: 'after this long since the first failure, stop retrying' },
  { name: 'max_attachment_size', kind: 'size', default: '10MB', min: 0, max: 1024 ** 3,
    description: 'all attachments of one email together' },
  { name: 'max_body_size', kind: 'size', default: '1MB', min: 1024, max: 1024 ** 3,
    description: "one email's body, without attachments" },
  // Exchange Online's largest message is 150 MB; a server that sends more (or never ends one) is cut there.
  { name: 'max_message_size', kind: 'size', default: '150MB', min: 1024 ** 2, max: 1024 ** 3,
    description: 'the largest incoming email taken (IMAP, POP3, Graph); a larger one is quarantined' },
  { name: 'email_enabled', kind: 'boolean', default: 'true',
    description: 'kill switch for all sending and polling of this KB' },
  { name: 'nonproduction_redirect', kind: 'email-or-empty', default: '',
    description: 'in a test/dev KB, send everything to this address instead' },
  { name: 'nonproduction_allow_outbound', kind: 'boolean', default: 'false',
    description: 'in a test/dev KB, send to real recipients anyway' },
  // At least a day: a shorter retention would purge a quarantined message before anyone could replay it.
  { name: 'message_retention', kind: 'duration-or-forever', default: 'forever', min: 86_400_000, max: 36_500 * 86_400_000,
    description: 'stored messages and attachments older than this are purged daily (rows and notes stay)' },
  // RFC 3834 §2: not more than one automatic response to the same sender within several days; 7 recommended.
  { name: 'reject_notice_interval', kind: 'duration', default: '7d', min: 3_600_000, max: 365 * 86_400_000,
    description: 'a rejected sender gets at most one "not accepted" notice in this time' },
  // Each poll holds one connection; a server (or its firewall) limits how many one client may
  // open (Dovecot's mail_max_userip_connections is 10 per user and IP; Exchange Online allows 20 IMAP).
  { name: 'max_mailbox_connections', kind: 'count', default: '8', min: 1, max: 200,
    description: 'mailboxes polled at the same time, over all inbound accounts' },
  // RFC 2177: new mail is announced on an open connection instead of waiting for the next poll.
  { name: 'imap_idle', kind: 'boolean', default: 'true',
    description: 'IMAP accounts keep one connection open (IDLE) to take new mail within seconds' },
  { name: 'reference_lifetime', kind: 'duration-or-forever', default: '365d', min: 86_400_000, max: 36_500 * 86_400_000,
    description: 'a reply updates its record only while the reference it carries is younger than this' },
];

export type GlobalName = (typeof globalDefinitions)[number]['name'];

/** Typed values of every global variable, after defaults. */
export interface GlobalValues {
  inbound_check_frequency: number;
  imap_full_sweep_interval: number;
  outbound_retry_interval: number;
  outbound_retry_lifetime: number;
  max_attachment_size: number;
  max_body_size: number;
  /** Bytes: the most of one incoming message that is taken. */
  max_message_size: number;
  email_enabled: boolean;
  nonproduction_redirect: string;
  nonproduction_allow_outbound: boolean;
  /** Milliseconds, or null for "forever" (nothing is purged). */
  message_retention: number | null;
  /** Milliseconds between two notices to the same rejected sender. */
  reject_notice_interval: number;
  /** Milliseconds a reference stays valid after its message was sent, or null for "forever". */
  reference_lifetime: number | null;
  /** Polls running at once, over all inbound accounts. */
  max_mailbox_connections: number;
  imap_idle: boolean;
}

const emailPattern = /^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/;

/**
 * True for a plain addr-spec such as "ops@acme.test" (no display name), of at most 254
 * characters (RFC 5321 §4.5.3.1.3's 256-octet path less its angle brackets): a longer one no
 * server takes, and it would not fit a header line.
 */
export function isEmailAddress(text: string): boolean {
  return text.length <= 254 && emailPattern.test(text);
}

export function findGlobal(name: string): GlobalDefinition {
  const definition = globalDefinitions.find((d) => d.name === name);
  if (!definition) {
    throw new UsageError('E_GLOBAL_UNKNOWN', `There is no global variable named "${name}".`, {
      fix: `Known names: ${globalDefinitions.map((d) => d.name).join(', ')}.`,
      command: 'mailctl config show',
    });
  }
  return definition;
}

/**
 * Checks a value the admin typed and returns its canonical text ("10mb" → "10MB",
 * "1800s" → "30m"). Throws a UsageError that says what was expected.
 */
export function normalizeGlobal(name: string, input: string): string {
  const definition = findGlobal(name);
  const text = input.trim();
  const bad = (expected: string) =>
    new UsageError('E_GLOBAL_VALUE', `"${input}" is not a valid value for ${name}: expected ${expected}.`, {
      details: { name, value: input },
    });
  switch (definition.kind) {
    case 'duration':
    case 'duration-or-forever': {
      const forever = definition.kind === 'duration-or-forever';
      if (forever && text.toLowerCase() === 'forever') return 'forever';
      const ms = parseDuration(text);
      if (ms === undefined) throw bad(forever ? 'a duration such as 90d or 2557d, or forever' : 'a duration such as 30s, 1m, 2h or 5d');
      checkRange(definition, ms, formatDuration, input);
      return formatDuration(ms);
    }
    case 'size': {
      const bytes = parseSize(text);
      if (bytes === undefined) throw bad('a size such as 512KB, 10MB, 1GB or a number of bytes');
      checkRange(definition, bytes, formatSize, input);
      return formatSize(bytes);
    }
    case 'boolean': {
      const lowered = text.toLowerCase();
      if (['true', 'yes', 'on', '1'].includes(lowered)) return 'true';
      if (['false', 'no', 'off', '0'].includes(lowered)) return 'false';
      throw bad('true or false');
    }
    case 'count': {
      if (!/^\d{1,9}$/.test(text)) throw bad('a whole number such as 8');
      const n = Number(text);
      checkRange(definition, n, String, input);
      return String(n);
    }
    case 'email-or-empty': {
      if (text === '' || isEmailAddress(text)) return text;
      throw bad('an email address such as qa@acme.test, or "" for none');
    }
  }
}

function checkRange(definition: GlobalDefinition, value: number, format: (n: number) => string, input: string) {
  const { min, max, name } = definition;
  if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
    throw new UsageError(
      'E_GLOBAL_RANGE',
      `${input} is out of range for ${name}: it must be between ${format(min ?? 0)} and ${format(max ?? Infinity)}.`,
      { details: { name, value: input } },
    );
  }
}

/**
 * Typed values from the stored canonical texts, defaults filled in. A stored value that
 * `config set` would refuse (config.json edited by hand: "0s" polling, "soon", "many") is
 * refused here too — UserError E_GLOBAL_STORED, exit code of a config problem — and never used:
 * 0 s polling hammered the server, and a daemon keeps its previous configuration instead.
 */
export function resolveGlobals(stored: Record<string, string | undefined>): GlobalValues {
  for (const definition of globalDefinitions) {
    const value = stored[definition.name];
    if (value === undefined) continue;
    try {
      normalizeGlobal(definition.name, value);
    } catch (error) {
      throw new UserError('E_GLOBAL_STORED', `The config file sets ${definition.name} to "${value}", which mailctl refuses: ${(error as Error).message}`, {
        fix: `Set a valid value (mailctl config set ${definition.name} ${definition.default}) or return it to its default (mailctl config unset ${definition.name}).`,
        exitCode: ExitCode.config,
      });
    }
  }
  const text = (name: GlobalName) => stored[name] ?? findGlobal(name).default;
  return {
    inbound_check_frequency: parseDuration(text('inbound_check_frequency'))!,
    imap_full_sweep_interval: parseDuration(text('imap_full_sweep_interval'))!,
    outbound_retry_interval: parseDuration(text('outbound_retry_interval'))!,
    outbound_retry_lifetime: parseDuration(text('outbound_retry_lifetime'))!,
    max_attachment_size: parseSize(text('max_attachment_size'))!,
    max_body_size: parseSize(text('max_body_size'))!,
    max_message_size: parseSize(text('max_message_size'))!,
    email_enabled: text('email_enabled') === 'true',
    nonproduction_redirect: text('nonproduction_redirect'),
    nonproduction_allow_outbound: text('nonproduction_allow_outbound') === 'true',
    message_retention: text('message_retention') === 'forever' ? null : parseDuration(text('message_retention'))!,
    reject_notice_interval: parseDuration(text('reject_notice_interval'))!,
    reference_lifetime: text('reference_lifetime') === 'forever' ? null : parseDuration(text('reference_lifetime'))!,
    max_mailbox_connections: Number(text('max_mailbox_connections')),
    imap_idle: text('imap_idle') === 'true',
  };
}
