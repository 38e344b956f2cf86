import type { Deps } from '../../deps.js';
import { UsageError } from '../../errors.js';
import { parseProperties, valueOf } from '../../config/properties.js';
import { dropUnusedSecrets, externalizeSecrets, isSecretKey, secretRefId } from '../../config/property-secrets.js';
import { maskSecret } from '../../ui/mask.js';
import { readTextFile } from '../../ui/read-text-file.js';

function checkPlace(place: string): 'outbound' {
  if (place !== 'outbound') {
    throw new UsageError('E_PLACE', `Unknown place "${place}": properties belong to "outbound" (inbound accounts keep theirs in \`mailctl configure inbound\`).`);
  }
  return place;
}

/** The stored blob with secrets masked: the last 4 characters, as admins compare them. */
export async function maskedProperties(blob: string, deps: Deps): Promise<string> {
  const { store } = await deps.secrets();
  const parts: string[] = [];
  for (const line of parseProperties(blob)) {
    if (line.kind === 'entry' && isSecretKey(line.key!)) {
      const id = secretRefId(valueOf(line));
      const value = id ? ((await store.get(id)) ?? '') : valueOf(line);
      parts.push(line.text.slice(0, line.valueStart) + maskSecret(value) + line.text.slice(line.valueEnd) + line.eol);
    } else {
      parts.push(line.text + line.eol);
    }
  }
  return parts.join('');
}

/** `mailctl properties show outbound` */
export async function runPropertiesShow(deps: Deps, place: string): Promise<number> {
  checkPlace(place);
  const blob = String((await deps.config()).read().outbound?.properties ?? '');
  const masked = await maskedProperties(blob, deps);
  deps.out.raw(masked.endsWith('\n') || masked === '' ? masked : masked + '\n');
  deps.out.data({ ok: true, place, properties: masked });
  return 0;
}

/** `mailctl properties set outbound --file F|-` */
export async function runPropertiesSet(deps: Deps, place: string, options: { file: string }): Promise<number> {
  checkPlace(place);
  const text = options.file === '-' ? await deps.readStdin() : readTextFile(options.file);
  const { store } = await deps.secrets();
  const configStore = await deps.config();
  // Read, store the secrets, write and drop the old ones under the config lock: a second
  // `properties set` at the same time must not drop the secrets this one refers to.
  const stored = await configStore.transaction(async () => {
    const before = String(configStore.read().outbound?.properties ?? '');
    const stored = await externalizeSecrets(text, 'outbound', store);
    configStore.update((config) => {
      config.outbound = { ...config.outbound, properties: stored };
    });
    await dropUnusedSecrets(before, stored, store);
    return stored;
  });
  const secretCount = parseProperties(stored).filter((l) => l.kind === 'entry' && isSecretKey(l.key!)).length;
  deps.out.success(`Saved ${parseProperties(stored).length} lines of outbound properties; ${secretCount} secret value(s) kept in the ${store.backend} store.`);
  deps.out.data({ ok: true, place, lines: parseProperties(stored).length, secrets: secretCount });
  return 0;
}
