import type { Deps } from '../../deps.js';
import { findGlobal, globalDefinitions, normalizeGlobal } from '../../config/globals.js';

interface GlobalView {
  name: string;
  value: string;
  default: string;
  isDefault: boolean;
  description: string;
}

async function views(deps: Deps): Promise<GlobalView[]> {
  const stored = (await deps.config()).read().globals ?? {};
  return globalDefinitions.map((d) => {
    const value = stored[d.name] ?? d.default;
    return { name: d.name, value, default: d.default, isDefault: stored[d.name] === undefined, description: d.description };
  });
}

const show = (value: string) => (value === '' ? '""' : value);

/** `mailctl config show` */
export async function runConfigShow(deps: Deps): Promise<number> {
  const rows = await views(deps);
  deps.out.table(rows, [
    { header: 'NAME', value: (r) => r.name },
    { header: 'VALUE', value: (r) => show(r.value) + (r.isDefault ? '' : ' *') },
    { header: 'DEFAULT', value: (r) => show(r.default) },
    { header: 'MEANING', value: (r) => r.description },
  ]);
  deps.out.line('\n* changed from the default. Change with: mailctl config set NAME VALUE');
  deps.out.data({ ok: true, globals: rows });
  return 0;
}

/** `mailctl config get NAME` */
export async function runConfigGet(deps: Deps, name: string): Promise<number> {
  findGlobal(name);
  const row = (await views(deps)).find((r) => r.name === name)!;
  deps.out.line(row.value);
  deps.out.data({ ok: true, ...row });
  return 0;
}

/** `mailctl config set NAME VALUE`: validated before anything is written. */
export async function runConfigSet(deps: Deps, name: string, value: string): Promise<number> {
  const canonical = normalizeGlobal(name, value);
  const store = await deps.config();
  let before = findGlobal(name).default;
  // What it was is read under the lock, in the same read-modify-write: another `config set` may have just changed it.
  store.update((config) => {
    before = config.globals?.[name] ?? findGlobal(name).default;
    config.globals = { ...config.globals, [name]: canonical };
  });
  const { AuditRepo } = await import('../../store/audit-repo.js');
  new AuditRepo(await deps.db(), deps.clock).record({ actor: 'cli', action: 'global.set', target: name, details: { from: before, to: canonical } });
  deps.out.success(`${name} = ${show(canonical)} (was ${show(before)})`);
  deps.out.data({ ok: true, name, value: canonical, previous: before });
  return 0;
}

/** `mailctl config unset NAME`: back to the default. */
export async function runConfigUnset(deps: Deps, name: string): Promise<number> {
  const definition = findGlobal(name);
  const store = await deps.config();
  store.update((config) => {
    if (config.globals) delete config.globals[name];
  });
  deps.out.success(`${name} = ${show(definition.default)} (the default)`);
  deps.out.data({ ok: true, name, value: definition.default });
  return 0;
}
