import type { Deps } from '../../deps.js';
import { UsageError } from '../../errors.js';
import { parseDuration } from '../../config/units.js';
import { CommunicationsRepo } from '../../store/communications-repo.js';
import { communicationDispositions } from '../../store/dispositions.js';
import { TablesRepo } from '../../store/tables-repo.js';
import { cut, mailLine } from '../../ui/output.js';

/**
 * `mailctl comms list [--table T] [--record ID] [--disposition D[,D…]] [--since 7d|2026-11-01]`:
 * newest first, with the reason cut to the width of the terminal (COLUMNS, else 120, when
 * stdout is not one); --json gives every field uncut. A filter that cannot match (a mistyped
 * disposition, an unknown table, --limit 0) is a usage error, never "No communications.".
 */
export async function runCommsList(deps: Deps, options: { table?: string; record?: string; limit: string; disposition?: string; since?: string }): Promise<number> {
  if (options.record !== undefined && !/^\d+$/.test(options.record)) throw new UsageError('E_ID', `--record must be a whole number, not "${options.record}".`);
  if (!/^\d+$/.test(options.limit) || Number(options.limit) < 1) throw new UsageError('E_LIMIT', `--limit must be a whole number of at least 1, not "${options.limit}".`);
  const dispositions = options.disposition?.split(',').map((d) => d.trim()).filter(Boolean);
  if (options.disposition !== undefined && !dispositions?.length) throw new UsageError('E_DISPOSITION', `--disposition needs at least one disposition: ${communicationDispositions.join(', ')}.`);
  const since = options.since !== undefined ? sinceTime(options.since, deps.clock.now()) : undefined;
  const db = await deps.db();
  const repo = new CommunicationsRepo(db, deps.clock);
  // A disposition an earlier version wrote is in the table, not in the list: it is known too.
  const unknown = (dispositions ?? []).filter((d) => !communicationDispositions.includes(d) && !repo.hasDisposition(d));
  if (unknown.length) {
    throw new UsageError('E_DISPOSITION', `--disposition: ${unknown.map((d) => `"${d}"`).join(', ')} ${unknown.length === 1 ? 'is not a disposition' : 'are not dispositions'}. Known dispositions: ${communicationDispositions.join(', ')}.`, {
      fix: 'Give one or more of them, comma-separated.',
      command: 'mailctl comms list --disposition quarantined --since 7d',
      details: { unknown, known: communicationDispositions },
    });
  }
  // A table that is gone may still have its mail: known when either names it.
  if (options.table !== undefined && !repo.hasTable(options.table)) {
    const tables = new TablesRepo(db, deps.clock);
    if (!tables.get(options.table)) {
      const known = tables.list().map((t) => t.name);
      throw new UsageError('E_TABLE_UNKNOWN', `--table "${options.table}": there is no such table, and no communication names it.`, {
        fix: known.length ? `Known tables: ${known.join(', ')}.` : 'No table exists yet (mailctl tables add NAME).',
        command: 'mailctl tables list',
      });
    }
  }
  const rows = repo.list({
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
    { header: 'TABLE', value: (r) => mailLine(r.table ?? '') },
    { header: 'RECORD', value: (r) => (r.recordId === null ? '' : String(r.recordId)) },
    { header: 'FROM', value: (r) => cut(mailLine(r.from ?? ''), 32) },
    { header: 'DISPOSITION', value: (r) => r.disposition },
    { header: 'SUBJECT', value: (r) => cut(mailLine(r.subject ?? ''), 40) },
    { header: 'REASON', value: (r) => mailLine(r.reason ?? '') },
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
