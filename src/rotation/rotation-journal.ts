import type { SecretStore } from '../secrets/secret-store.js';
import { tokenCacheKey } from '../auth/token-cache.js';
import type { FileLockHolder } from '../fs/file-lock.js';
import { tryRotationLock } from './rotation-lock.js';

/**
 * The write-ahead record of a rotation, kept in the secret store (it holds secrets): every
 * secret id with its old and new value, and every token cache as it was. Written before
 * the first secret changes, removed when the rotation is committed or rolled back; one
 * found at start-up while nobody holds rotate-secret.lock means a run was killed half-way.
 */
export interface RotationJournal {
  id: string;
  startedAt: string;
  state: 'applying' | 'verifying' | 'committed';
  entries: Array<{ secretId: string; old: string; new: string }>;
  /** place → the token cache text before the rotation (null: there was none). */
  tokens: Record<string, string | null>;
}

const journalKey = 'rotation/journal';

export async function readJournal(store: SecretStore): Promise<RotationJournal | undefined> {
  const text = await store.get(journalKey);
  return text ? (JSON.parse(text) as RotationJournal) : undefined;
}

export async function writeJournal(store: SecretStore, journal: RotationJournal): Promise<void> {
  await store.set(journalKey, JSON.stringify(journal));
}

export async function deleteJournal(store: SecretStore): Promise<void> {
  await store.delete(journalKey);
}

/** Puts every old secret and token back. */
export async function rollBack(store: SecretStore, journal: RotationJournal): Promise<void> {
  for (const entry of journal.entries) await store.set(entry.secretId, entry.old);
  for (const [place, text] of Object.entries(journal.tokens)) {
    if (text === null) await store.delete(tokenCacheKey(place));
    else await store.set(tokenCacheKey(place), text);
  }
}

export type RecoveryReport =
  | { action: 'rolled-back' | 'completed'; journalId: string; secrets: number }
  /** A rotation is running right now (its process holds the lock): its journal is left alone. */
  | { action: 'running'; journalId: string; holder: FileLockHolder | 'unreadable' };

/**
 * Finishes what a killed rotate-secret left, in `dataDir`'s KB: a committed rotation is
 * completed, anything earlier is rolled back, so the secret is the old one everywhere or the
 * new one everywhere, never a mix. Only when no live process holds rotate-secret.lock (a
 * journal is also there while a rotation runs, and undoing it under the rotator would revert
 * a rotation that then reports success); the lock is held while recovering, so a new rotation
 * cannot start in between. Undefined when there is no journal (the usual case: no lock taken).
 */
export async function recoverRotation(store: SecretStore, dataDir: string): Promise<RecoveryReport | undefined> {
  const seen = await readJournal(store);
  if (!seen) return undefined;
  const attempt = tryRotationLock(dataDir);
  if ('holder' in attempt) return { action: 'running', journalId: seen.id, holder: attempt.holder };
  try {
    return await finishJournal(store);
  } finally {
    attempt.lock.release();
  }
}

/**
 * The recovery itself; the caller holds rotate-secret.lock (recoverRotation, or rotate-secret
 * finding a journal once it has the lock). Reads the journal again: the rotator may have
 * finished between a first look and the lock.
 */
export async function finishJournal(store: SecretStore): Promise<RecoveryReport | undefined> {
  const journal = await readJournal(store);
  if (!journal) return undefined;
  if (journal.state === 'committed') {
    for (const entry of journal.entries) await store.set(entry.secretId, entry.new);
    await deleteJournal(store);
    return { action: 'completed', journalId: journal.id, secrets: journal.entries.length };
  }
  await rollBack(store, journal);
  await deleteJournal(store);
  return { action: 'rolled-back', journalId: journal.id, secrets: journal.entries.length };
}

/** What to tell the user about a recovery (or a rotation found running). */
export function recoveryNotice(report: RecoveryReport): string {
  if (report.action === 'running') {
    const who = report.holder === 'unreadable' ? '' : `, pid ${report.holder.pid} on ${report.holder.host} since ${report.holder.since}`;
    return `A rotate-secret, or the recovery of one (${report.journalId}${who}), is changing the client secret right now: this command may see the old secret in some places and the new one in others.`;
  }
  return report.action === 'rolled-back'
    ? `An interrupted rotate-secret (${report.journalId}) was rolled back: the old secret is back in all ${report.secrets} places.`
    : `An interrupted rotate-secret (${report.journalId}) was completed: the new secret is in all ${report.secrets} places.`;
}
