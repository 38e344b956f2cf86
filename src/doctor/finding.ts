import type { Clock } from '../clock.js';
import type { MailctlConfig } from '../config/config-schema.js';
import type { GlobalValues } from '../config/globals.js';
import type { MailctlPaths } from '../config/paths.js';
import type { SecretStoreChoice } from '../secrets/open-secret-store.js';
import type { Database } from '../store/database.js';
import type { MessageStore } from '../store/message-store.js';

/** What `--only` picks from. */
export const doctorAreas = ['outbound', 'inbound', 'oauth', 'queue', 'config', 'store'] as const;
export type DoctorArea = (typeof doctorAreas)[number];

/** The source guide's troubleshooting symptoms, in its order, plus OAuth, configuration and the message store. */
export const symptoms = {
  'wont-send': 'Some emails won\'t send',
  'not-moving': 'No emails are received or sent',
  unexpected: 'Unexpected or duplicate emails are received',
  oauth: 'OAuth',
  configuration: 'Configuration',
  store: 'Stored messages and attachments',
} as const;
export type Symptom = keyof typeof symptoms;

/**
 * The sections that belong to one area. `doctor --only X` shows the checks of area X; a check
 * shown in one of these sections is in that area alone, so --only inbound never prints the
 * Configuration or Stored-messages section (a test holds every check to this).
 */
export const sectionArea: Partial<Record<Symptom, DoctorArea>> = { oauth: 'oauth', configuration: 'config', store: 'store' };

export type Severity = 'error' | 'warning' | 'info';

/** One problem doctor found: what was seen, why it matters, and what to do. */
export interface Finding {
  /** Stable id of the check that found it ("outbound.from-address"). */
  check: string;
  symptom: Symptom;
  severity: Severity;
  title: string;
  seen: string;
  cause: string;
  fix: string;
  /** The mailctl command that applies or checks the fix. */
  command?: string;
}

/** A check that ran and found nothing wrong: shown as ✓ so a clean run says what it covered. */
export interface Passed {
  check: string;
  symptom: Symptom;
  summary: string;
}

/** What a check can read; network checks also get the timeout. */
export interface DoctorContext {
  config: MailctlConfig;
  globals: GlobalValues;
  paths: MailctlPaths;
  configPath: string;
  clock: Clock;
  db: Database;
  /** The message store (raw messages, attachments) the communications refer to. */
  messages: MessageStore;
  /** Read back and hash every stored item (doctor --verify-store), not just the newest. */
  verifyStore: boolean;
  secrets: SecretStoreChoice;
  timeoutMs: number;
  /** File modes seen before anything opened them (the file store tightens its key's mode when it reads it). */
  fileModes: Map<string, number>;
  /** Filled by the outbound login check: the server's SIZE (0 = none advertised). */
  serverMaxSize?: number;
}

/** The result a check reports through. */
export interface Report {
  finding(f: Finding): void;
  passed(p: Passed): void;
}

export interface DoctorCheck {
  id: string;
  symptom: Symptom;
  areas: readonly DoctorArea[];
  /** Talks to a server (skipped by --no-network). */
  network: boolean;
  run(ctx: DoctorContext, report: Report): Promise<void> | void;
}
