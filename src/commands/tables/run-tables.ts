import type { Deps } from '../../deps.js';
import { TablesRepo } from '../../store/tables-repo.js';

/** `mailctl tables add NAME` */
export async function runTablesAdd(deps: Deps, name: string, options: { label?: string }): Promise<number> {
  const row = new TablesRepo(await deps.db(), deps.clock).add(name, options.label);
  deps.out.success(`Created table "${row.name}".`);
  deps.out.data({ ok: true, table: row });
  return 0;
}

/** `mailctl tables list` */
export async function runTablesList(deps: Deps): Promise<number> {
  const rows = new TablesRepo(await deps.db(), deps.clock).list();
  if (rows.length === 0) deps.out.line('No tables yet. Create one with: mailctl tables add contracts');
  else deps.out.table(rows, [
    { header: 'NAME', value: (r) => r.name },
    { header: 'LABEL', value: (r) => r.label },
    { header: 'CREATED', value: (r) => r.created_at },
  ]);
  deps.out.data({ ok: true, tables: rows });
  return 0;
}
