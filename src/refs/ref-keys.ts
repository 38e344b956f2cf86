import { randomBytes } from 'node:crypto';
import { ExitCode, UserError } from '../errors.js';
import type { SecretStore } from '../secrets/secret-store.js';

/** Where the reference key with id `keyId` lives in the secret store. */
export function refKeySecretName(keyId: string): string {
  return `kb/refkey/${keyId}`;
}

/** Makes a new random 256-bit reference key and stores it; returns nothing secret. */
export async function createRefKey(store: SecretStore, keyId: string): Promise<void> {
  await store.set(refKeySecretName(keyId), randomBytes(32).toString('base64'));
}

/** Loads a reference key; a missing key is a broken installation, said plainly. */
export async function loadRefKey(store: SecretStore, keyId: string): Promise<Buffer> {
  const text = await store.get(refKeySecretName(keyId));
  if (!text) {
    throw new UserError('E_REFKEY_MISSING', `The reference key ${keyId} is missing from the ${store.backend} secret store.`, {
      fix: 'Restore the secret store from a backup; replies to mail sealed with this key cannot be matched without it.',
      command: 'mailctl secrets status',
      exitCode: ExitCode.secrets,
    });
  }
  return Buffer.from(text, 'base64');
}

/** The id after the newest of `ids` ("k1" → "k2"). */
export function nextRefKeyId(ids: readonly string[]): string {
  const newest = Math.max(0, ...ids.map((id) => Number(id.slice(1))));
  return `k${newest + 1}`;
}

/** Every reference key of the KB, so mail sealed before a rotation still decodes. */
export async function loadRefKeys(store: SecretStore, keyIds: readonly string[]): Promise<Map<string, Buffer>> {
  const keys = new Map<string, Buffer>();
  for (const id of keyIds) keys.set(id, await loadRefKey(store, id));
  return keys;
}
