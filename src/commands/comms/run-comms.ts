import type { Deps } from '../../deps.js';
import { UsageError } from '../../errors.js';
import { parseDuration } from '../../config/units.js';
import { CommunicationsRepo } from '../../store/communications-repo.js';
import { cut, mailText } from '../../ui/output.js';

/**
 * `mailctl comms list [--table T] [--record ID] [--disposition D[,D…]] [--since 7d|2026-11-01]`:
 * newest first, with the reason cut to the width of the terminal (COLUMNS, else 120, when
 * stdout is not one); --json gives every field uncut.
 */
export async function runCommsList(deps: Deps, options: { table?: string; record?: string; limit: string; disposition?: string; since?: string }): Promise<number> {
  if (options.record !== undefined && !/^\d+$/.test(options.record)) throw new UsageError('E_ID', `--record must be a whole number, not "${options.record}".`);
  if (!/^\d+$/.test(options.limit)) throw new UsageError('E_ID', `--limit must be a whole number, not "${options.limit}".`);
  const dispositions = options.disposition?.split(',').map((d) => d.trim()).filter(Boolean);
  const since = options.since !== undefined ? sinceTime(options.since, deps.clock.now()) : undefined;
  const rows = new CommunicationsRepo(await deps.db(), deps.clock).list({
    ...(options.table ? { table: options.table } : {}),
    ...(options.record !== undefined ? { recordId: Number(options.record) } : {}),
    ...(dispositions?.length ? { dispositions } : {}),
    ...(since ? { since } : {}),
    limit: Number(options.limit),
  });
  if (rows.length === 0) deps.out.line('No communications.');
  else deps.out.table(rows, [
    { header: 'ID', value: (r) => String(r.id) },
    { header: 'DIR', value: (r) => (r.direction === 'inbound' ? 'in' : 'out') },
    { header: 'TAKEN', value: (r) => r.createdAt.slice(0, 16).replace('T', ' ') },
    { header: 'TABLE', value: (r) => r.table ?? '' },
    { header: 'RECORD', value: (r) => (r.recordId === null ? '' : String(r.recordId)) },
    { header: 'FROM', value: (r) => cut(mailText(r.from ?? ''), 32) },
    { header: 'DISPOSITION', value: (r) => r.disposition },
    { header: 'SUBJECT', value: (r) => cut(mailText(r.subject ?? ''), 40) },
    { header: 'REASON', value: (r) => mailText(r.reason ?? '') },
  ], { fitLast: 20 });
  deps.out.data({ ok: true, communications: rows });
  return 0;
}

/** `--since`: a duration back from now ("7d", "12h") or a date or time ("2026-11-01", ISO); an ISO time. */
function sinceTime(text: string, now: Date): string {
  const ms = parseDuration(text);
  if (ms !== undefined) return new Date(now.getTime() - ms).toISOString();
  const at = /^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim()) ? Date.parse(text.trim().replace(' ', 'T')) : NaN;
  if (Number.isNaN(at)) throw new UsageError('E_SINCE', `--since takes a duration back from now (7d, 12h, 30m) or a date (2026-11-01, 2026-11-01T09:00Z), not "${text}".`);
  return new Date(at).toISOString();
}
