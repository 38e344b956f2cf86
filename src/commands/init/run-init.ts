import type { Deps } from '../../deps.js';
import { UsageError } from '../../errors.js';
import type { Environment, KbConfig } from '../../config/config-schema.js';
import { createRefKey } from '../../refs/ref-keys.js';

export interface InitOptions {
  name?: string;
  url?: string;
  environment?: Environment;
  force?: boolean;
}

const namePattern = /^[a-z0-9][a-z0-9._-]{0,62}$/;

function checkName(value: string): string | true {
  return namePattern.test(value) ? true : 'use lower-case letters, digits, ".", "_" or "-" (at most 63), e.g. acme-prod';
}

function checkUrl(value: string): string | true {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? true : 'the URL must start with https:// or http://';
  } catch {
    return 'not a URL; e.g. https://records.acme.test';
  }
}

/** `mailctl init`: the KB identity and its first reference key. */
export async function runInit(deps: Deps, options: InitOptions): Promise<number> {
  const { out, prompt } = deps;
  const configStore = await deps.config();
  const existing = configStore.read().kb;
  if (existing && !options.force) {
    throw new UsageError('E_KB_EXISTS', `This installation is already the KB "${existing.name}" (${existing.environment}, ${existing.url}).`, {
      fix: 'Pass --force to change its name, URL or environment; its reference keys are kept.',
    });
  }

  const name = options.name ?? (await prompt.input({ message: 'KB name', flag: '--name', default: existing?.name, validate: checkName }));
  const nameCheck = checkName(name);
  if (nameCheck !== true) throw new UsageError('E_KB_NAME', `"${name}" is not a valid KB name: ${nameCheck}.`);

  const url = options.url ?? (await prompt.input({ message: 'Server URL', flag: '--url', default: existing?.url, validate: checkUrl }));
  const urlCheck = checkUrl(url);
  if (urlCheck !== true) throw new UsageError('E_KB_URL', `"${url}" is not a valid server URL: ${urlCheck}.`);

  if (!options.environment && !prompt.interactive && !existing) {
    // No silent default here: a test KB taken for production could mail real people.
    throw new UsageError('E_NEEDS_FLAG', '"Environment" needs an answer, and there is no terminal to ask: pass --environment production|test|dev.');
  }
  const environment = options.environment ?? (await prompt.select<Environment>({
    message: 'Environment',
    flag: '--environment',
    default: existing?.environment ?? 'production',
    choices: [
      { value: 'production', name: 'production', description: 'mail goes to real recipients' },
      { value: 'test', name: 'test', description: 'nothing is sent unless redirected or allowed' },
      { value: 'dev', name: 'dev', description: 'nothing is sent unless redirected or allowed' },
    ],
  }));

  const { store } = await deps.secrets();
  // The answers were asked for outside the lock; what the KB is now is read again under it, so a
  // `keys rotate` or another init meanwhile is neither lost nor overwritten.
  const { kb, updated } = await configStore.transaction(async () => {
    const current = configStore.read().kb;
    if (current && !existing) {
      throw new UsageError('E_KB_EXISTS', `This installation became the KB "${current.name}" (${current.environment}, ${current.url}) while init was running.`, {
        fix: 'Pass --force to change its name, URL or environment; its reference keys are kept.',
      });
    }
    let kb: KbConfig;
    if (current) {
      kb = { ...current, name, url: new URL(url).toString().replace(/\/$/, ''), environment };
    } else {
      // The key goes to the secret store before the config names it, so a crash between
      // the two leaves an unused key, never a config pointing at a missing key.
      await createRefKey(store, 'k1');
      kb = { name, url: new URL(url).toString().replace(/\/$/, ''), environment, refKeyIds: ['k1'], activeRefKeyId: 'k1', createdAt: deps.clock.now().toISOString() };
    }
    configStore.update((config) => {
      config.kb = kb;
    });
    return { kb, updated: current !== undefined };
  });
  const db = await deps.db();
  const { AuditRepo } = await import('../../store/audit-repo.js');
  new AuditRepo(db, deps.clock).record({ actor: 'cli', action: updated ? 'kb.update' : 'kb.init', target: name, details: { environment, url: kb.url } });

  out.success(`${updated ? 'Updated' : 'Created'} KB "${kb.name}" (${kb.environment}) for ${kb.url}.`);
  if (!updated) out.line(`  Reference key ${kb.activeRefKeyId} stored in the ${store.backend} secret store (${store.location}).`);
  if (kb.environment !== 'production') {
    out.line('  This is not a production KB: the daemon sends no mail until you set nonproduction_redirect or nonproduction_allow_outbound.');
  }
  out.line(`  Config: ${configStore.path}`);
  out.data({ ok: true, kb: { name: kb.name, url: kb.url, environment: kb.environment, refKeyIds: kb.refKeyIds }, configPath: configStore.path, secretBackend: store.backend });
  return 0;
}
