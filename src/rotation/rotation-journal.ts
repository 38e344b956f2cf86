import type { SecretStore } from '../secrets/secret-store.js';
import { tokenCacheKey } from '../auth/token-cache.js';

/**
 * The write-ahead record of a rotation, kept in the secret store (it holds secrets): every
 * secret id with its old and new value, and every token cache as it was. Written before
 * the first secret changes, removed when the rotation is committed or rolled back; one
 * found at start-up means a run was killed half-way.
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

export interface RecoveryReport {
  action: 'rolled-back' | 'completed';
  journalId: string;
  secrets: number;
}

/**
 * Finishes what a killed rotate-secret left: a committed rotation is completed, anything
 * earlier is rolled back, so the secret is the old one everywhere or the new one
 * everywhere, never a mix.
 */
export async function recoverRotation(store: SecretStore): Promise<RecoveryReport | undefined> {
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
