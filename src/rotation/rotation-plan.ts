import type { SecretOccurrence } from './secret-occurrence.js';

export interface RotationPlan {
  occurrences: SecretOccurrence[];
  /** place → number of occurrences. */
  counts: Array<{ place: string; count: number }>;
  /** The value most occurrences hold: what is being replaced. */
  currentValue: string;
  /** Occurrences whose value differs from the others (an earlier, half-done rotation). */
  differing: SecretOccurrence[];
  /** The client id most places use. */
  mainClientId: string | null;
  /** Places whose client id differs: another app, touched only when the admin says so. */
  otherApps: string[];
}

function mostCommon<T>(values: T[]): T | undefined {
  const counts = new Map<T, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
}

/** What a rotation will touch, and what looks wrong before it starts. Pure. */
export function planRotation(occurrences: SecretOccurrence[]): RotationPlan {
  const counts: RotationPlan['counts'] = [];
  for (const o of occurrences) {
    const entry = counts.find((c) => c.place === o.place);
    if (entry) entry.count++;
    else counts.push({ place: o.place, count: 1 });
  }
  const currentValue = mostCommon(occurrences.map((o) => o.value)) ?? '';
  const mainClientId = mostCommon(occurrences.map((o) => o.clientId).filter((c): c is string => c !== null)) ?? null;
  const otherApps = [...new Set(occurrences.filter((o) => o.clientId !== null && mainClientId !== null && o.clientId !== mainClientId).map((o) => o.place))];
  return { occurrences, counts, currentValue, differing: occurrences.filter((o) => o.value !== currentValue), mainClientId, otherApps };
}

/** A secret's id (a GUID) pasted where its value belongs: Entra shows both side by side. */
export function looksLikeSecretId(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value.trim());
}
