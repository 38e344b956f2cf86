import type { Deps } from '../../deps.js';
import { UsageError } from '../../errors.js';
import { CommunicationsRepo } from '../../store/communications-repo.js';

/** `mailctl comms list [--table T] [--record ID]` */
export async function runCommsList(deps: Deps, options: { table?: string; record?: string; limit: string }): Promise<number> {
  if (options.record !== undefined && !/^\d+$/.test(options.record)) throw new UsageError('E_ID', `--record must be a whole number, not "${options.record}".`);
  if (!/^\d+$/.test(options.limit)) throw new UsageError('E_ID', `--limit must be a whole number, not "${options.limit}".`);
  const rows = new CommunicationsRepo(await deps.db(), deps.clock).list({
    ...(options.table ? { table: options.table } : {}),
    ...(options.record !== undefined ? { recordId: Number(options.record) } : {}),
    limit: Number(options.limit),
  });
  if (rows.length === 0) deps.out.line('No communications.');
  else deps.out.table(rows, [
    { header: 'ID', value: (r) => String(r.id) },
    { header: 'DIR', value: (r) => (r.direction === 'inbound' ? 'in' : 'out') },
    { header: 'TABLE', value: (r) => r.table ?? '' },
    { header: 'RECORD', value: (r) => (r.recordId === null ? '' : String(r.recordId)) },
    { header: 'FROM', value: (r) => r.from ?? '' },
    { header: 'DISPOSITION', value: (r) => r.disposition },
    { header: 'SUBJECT', value: (r) => (r.subject ?? '').slice(0, 50) },
  ]);
  deps.out.data({ ok: true, communications: rows });
  return 0;
}
