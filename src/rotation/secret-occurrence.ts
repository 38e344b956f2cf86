import type { MailctlConfig } from '../config/config-schema.js';
import { findOccurrences, parseProperties, valueOf, keyMatches } from '../config/properties.js';
import { secretRefId } from '../config/property-secrets.js';
import type { SecretStore } from '../secrets/secret-store.js';

/** One place a client secret is kept. */
export interface SecretOccurrence {
  /** "outbound" or "inbound/<table>": also the token cache place. */
  place: string;
  /** Where in the place: the custom properties, or the structured OAuth field. */
  source: 'properties' | 'auth';
  key: string;
  /** 1-based line in the properties; null for the structured field. */
  line: number | null;
  /** Index of the line (for replacing a literal value in place). */
  index: number | null;
  /** The secret-store id holding the value, or null when the value is written in clear. */
  secretId: string | null;
  value: string;
  /** The client id that goes with this place's secret (a different app is flagged). */
  clientId: string | null;
}

interface Place {
  place: string;
  properties: string | undefined;
  auth: { type: string; clientId?: string; clientSecret?: string } | undefined;
}

function placesOf(config: MailctlConfig): Place[] {
  const places: Place[] = [];
  if (config.outbound) places.push({ place: 'outbound', properties: config.outbound.properties, auth: config.outbound.auth as Place['auth'] });
  for (const [table, account] of Object.entries(config.inbound ?? {})) {
    places.push({ place: `inbound/${table}`, properties: account.properties, auth: account.auth as Place['auth'] });
  }
  return places;
}

/** The client id of a place: the structured field, else a `client_id` property. */
function clientIdOf(place: Place): string | null {
  if (place.auth?.type === 'oauth2' && place.auth.clientId) return place.auth.clientId;
  const line = parseProperties(place.properties ?? '').find((l) => l.kind === 'entry' && keyMatches(l.key!, 'client_id'));
  return line ? valueOf(line) : null;
}

/**
 * Every client_secret mailctl keeps: each `client_secret` line of the outbound and inbound
 * custom properties (prefixed keys too), and each structured OAuth client-secret field,
 * with the current value read from the secret store.
 */
export async function findSecretOccurrences(config: MailctlConfig, store: SecretStore): Promise<SecretOccurrence[]> {
  const found: SecretOccurrence[] = [];
  for (const place of placesOf(config)) {
    const clientId = clientIdOf(place);
    if (place.auth?.type === 'oauth2' && place.auth.clientSecret) {
      const id = secretRefId(place.auth.clientSecret);
      found.push({ place: place.place, source: 'auth', key: 'clientSecret', line: null, index: null, secretId: id ?? null, value: id ? ((await store.get(id)) ?? '') : place.auth.clientSecret, clientId });
    }
    for (const o of findOccurrences(place.properties ?? '', 'client_secret')) {
      const id = secretRefId(o.value);
      found.push({ place: place.place, source: 'properties', key: o.key, line: o.line, index: o.index, secretId: id ?? null, value: id ? ((await store.get(id)) ?? '') : o.value, clientId });
    }
  }
  return found;
}

/** The first client_secret reference of a properties blob (the OAuth secret when there is no structured one). */
export function firstClientSecretRef(properties: string | undefined): string | undefined {
  const first = findOccurrences(properties ?? '', 'client_secret')[0];
  return first ? first.value : undefined;
}
