import type { Deps } from '../../deps.js';
import { ExitCode, UsageError } from '../../errors.js';
import { resolveGlobals } from '../../config/globals.js';
import { formatDuration, parseDuration } from '../../config/units.js';
import { AuditRepo } from '../../store/audit-repo.js';
import { purgeContent } from '../../store/purge-content.js';
import { purgeSummary } from './purge-summary.js';

const dayMs = 86_400_000;

/**
 * `mailctl comms purge [--older-than D] [--dry-run]`: removes the stored content (raw message,
 * attachments, text and HTML bodies) of communications older than D, default message_retention.
 * The rows, header blocks and record notes stay.
 */
export async function runCommsPurge(deps: Deps, options: { olderThan?: string; dryRun?: boolean }): Promise<number> {
  const { out } = deps;
  let age: number;
  let reason: string;
  if (options.olderThan !== undefined) {
    const ms = parseDuration(options.olderThan);
    if (ms === undefined || ms < dayMs) {
      throw new UsageError('E_OLDER_THAN', `--older-than "${options.olderThan}" is not a duration of at least 1d.`, {
        fix: 'Give the age in days, e.g. --older-than 365d; a day at least, so that a message quarantined today can still be replayed.',
      });
    }
    age = ms;
    reason = `comms purge --older-than ${formatDuration(ms)}`;
  } else {
    const retention = resolveGlobals((await deps.config()).read().globals ?? {}).message_retention;
    if (retention === null) {
      throw new UsageError('E_NO_RETENTION', 'Nothing says how old content must be to be purged: message_retention is "forever" and --older-than was not given.', {
        fix: 'Give --older-than (e.g. 365d), or set a retention for the daemon to apply daily.',
        command: 'mailctl config set message_retention 365d',
      });
    }
    age = retention;
    reason = `comms purge (message_retention ${formatDuration(retention)})`;
  }
  const db = await deps.db();
  const store = await deps.messageStore();
  const now = deps.clock.now();
  const before = new Date(now.getTime() - age);
  const result = await purgeContent(db, store, { before, now, reason, dryRun: Boolean(options.dryRun) });
  if (!options.dryRun && result.communications > 0) {
    new AuditRepo(db, deps.clock).record({ actor: 'cli', action: 'comms.purge', target: reason, details: { ...result } });
  }
  out.line(`Communications taken before ${before.toISOString()}:`);
  (result.communications > 0 ? out.success.bind(out) : out.line.bind(out))(purgeSummary(result, Boolean(options.dryRun)));
  if (options.dryRun) out.line('Nothing was changed (--dry-run).');
  out.data({ ok: true, dryRun: Boolean(options.dryRun), before: before.toISOString(), reason, ...result });
  return ExitCode.ok;
}
