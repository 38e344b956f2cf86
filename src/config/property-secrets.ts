import { randomBytes } from 'node:crypto';
import { UserError, ExitCode } from '../errors.js';
import type { SecretStore } from '../secrets/secret-store.js';
import { keyMatches, parseProperties, replaceValueAt, valueOf } from './properties.js';

/** Keys whose values are secrets wherever they appear (also with a dotted prefix). */
export const secretKeyNames = ['client_secret', 'password', 'passwd', 'refresh_token', 'access_token', 'token', 'api_key', 'secret'] as const;

const referencePattern = /^\$\{secret:([A-Za-z0-9._/-]+)\}$/;

export function isSecretKey(key: string): boolean {
  return secretKeyNames.some((name) => keyMatches(key, name));
}

/** The secret id in a `${secret:ID}` reference, or undefined for a plain value. */
export function secretRefId(value: string): string | undefined {
  return referencePattern.exec(value)?.[1];
}

export function secretRef(id: string): string {
  return `\${secret:${id}}`;
}

/** Every secret id a stored blob refers to. */
export function secretRefsIn(blob: string): string[] {
  return parseProperties(blob).flatMap((line) => {
    const id = line.kind === 'entry' ? secretRefId(valueOf(line)) : undefined;
    return id ? [id] : [];
  });
}

/**
 * Moves every secret value of a blob into the secret store and returns the blob with
 * `${secret:ID}` in their place; every other byte is unchanged. Each occurrence gets
 * its own id, so an occurrence that differs from the others (a half-done rotation)
 * stays visible.
 */
export async function externalizeSecrets(blob: string, place: string, store: SecretStore): Promise<string> {
  let result = blob;
  const lines = parseProperties(blob);
  for (const [index, line] of lines.entries()) {
    if (line.kind !== 'entry' || !isSecretKey(line.key!)) continue;
    const value = valueOf(line);
    if (value === '' || secretRefId(value)) continue;
    const id = `props/${place}/${randomBytes(6).toString('hex')}`;
    await store.set(id, value);
    result = replaceValueAt(result, index, secretRef(id));
  }
  return result;
}

/** The blob with every reference replaced by its secret, for use with a server. */
export async function materializeSecrets(blob: string, store: SecretStore): Promise<string> {
  let result = blob;
  const lines = parseProperties(blob);
  for (const [index, line] of lines.entries()) {
    const id = line.kind === 'entry' ? secretRefId(valueOf(line)) : undefined;
    if (!id) continue;
    const value = await store.get(id);
    if (value === undefined) {
      throw new UserError('E_SECRET_MISSING', `The secret for "${line.key}" (line ${index + 1}) is missing from the ${store.backend} store.`, {
        fix: 'Set the value again with the configure command for this place.',
        command: 'mailctl secrets status',
        exitCode: ExitCode.secrets,
      });
    }
    result = replaceValueAt(result, index, value);
  }
  return result;
}

/** Deletes secrets that `before` referred to and `after` no longer does. */
export async function dropUnusedSecrets(before: string, after: string, store: SecretStore): Promise<void> {
  const kept = new Set(secretRefsIn(after));
  for (const id of secretRefsIn(before)) if (!kept.has(id)) await store.delete(id);
}
