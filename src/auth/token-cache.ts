import type { SecretStore } from '../secrets/secret-store.js';

/** What is kept per account in the secret store (never printed, never in the config). */
export interface CachedTokens {
  accessToken?: string;
  /** ISO time the access token expires. */
  expiresAt?: string;
  refreshToken?: string;
  /** When the current refresh token was issued: Microsoft drops it after 90 days unused. */
  refreshTokenIssuedAt?: string;
  /** msal-node's serialized cache (Microsoft delegated sign-in keeps its refresh token there). */
  msalCache?: string;
  /** Who signed in (delegated flows). */
  account?: string;
  scopes?: string[];
  obtainedAt?: string;
  lastRefresh?: { at: string; ok: boolean; error?: string };
}

/** The secret-store name of an account's tokens: "oauth/outbound", "oauth/inbound/contracts". */
export function tokenCacheKey(place: string): string {
  return `oauth/${place}`;
}

export async function readTokens(store: SecretStore, place: string): Promise<CachedTokens> {
  const text = await store.get(tokenCacheKey(place));
  if (!text) return {};
  try {
    return JSON.parse(text) as CachedTokens;
  } catch {
    return {};
  }
}

export async function writeTokens(store: SecretStore, place: string, tokens: CachedTokens): Promise<void> {
  await store.set(tokenCacheKey(place), JSON.stringify(tokens));
}

export async function dropTokens(store: SecretStore, place: string): Promise<boolean> {
  return store.delete(tokenCacheKey(place));
}

/** Moves tokens got during a wizard's check ("pending/…") to the account's place once it is saved. */
export async function moveTokens(store: SecretStore, from: string, to: string): Promise<void> {
  const text = await store.get(tokenCacheKey(from));
  if (text === undefined) return;
  await store.set(tokenCacheKey(to), text);
  await store.delete(tokenCacheKey(from));
}
