import type { InboundAccount } from '../inbound/inbound-config.js';
import { SyncRepo, type MarkWarning } from '../store/sync-repo.js';
import type { DoctorCheck, Finding } from './finding.js';

/**
 * What the daemon's last marks did to each mailbox (from inbound_sync.mark_warning, no
 * network): a refused move or delete, or a server without MOVE/UIDPLUS whose processed
 * messages are left flagged \Deleted. Either way the mail itself was taken and stored.
 */
export const mailboxChecks: DoctorCheck[] = [
  {
    id: 'inbound.mailbox-marking',
    symptom: 'not-moving',
    areas: ['inbound'],
    network: false,
    run({ config, db }, report) {
      const sync = new SyncRepo(db);
      for (const account of Object.values(config.inbound ?? {})) {
        const warning = sync.get(account.table).markWarning;
        if (!warning) {
          if (account.afterProcessing !== 'keep') report.passed({ check: this.id, symptom: this.symptom, summary: `inbound ${account.table}: "${account.afterProcessing}" after processing does what it says` });
          continue;
        }
        report.finding({ check: this.id, symptom: this.symptom, ...markFinding(account, warning) });
      }
    },
  },
];

/** Cause and fix for one account's mark warning. */
function markFinding(account: InboundAccount, w: MarkWarning): Omit<Finding, 'check' | 'symptom'> {
  const seen = `${w.at}: ${w.detail.slice(0, 300)} (${w.messages} message(s) in that poll)`;
  if (w.kind === 'left-flagged') {
    const move = w.action === 'move';
    return {
      severity: 'warning',
      title: `${account.table}: processed messages are flagged \\Deleted and left in ${account.folder}, not ${move ? 'moved' : 'deleted'}`,
      seen,
      cause: `The server advertises ${move ? 'neither MOVE nor UIDPLUS' : 'no UIDPLUS'}. Removing our messages from the folder would then take a bare EXPUNGE, which also removes every message anyone else flagged \\Deleted there, so mailctl never sends one: it ${move ? `copies each message to "${account.moveTo ?? 'Processed'}", then ` : ''}flags it \\Deleted \\Seen and leaves it. Polls skip messages flagged \\Deleted, so none is taken twice.`,
      fix: `Expunge ${account.folder} yourself (e.g. "compact" or "purge deleted" in a mail client) when nobody else keeps \\Deleted messages there, ask for ${move ? 'MOVE or UIDPLUS' : 'UIDPLUS'} on the server, or mark processed mail as read instead.`,
      command: `mailctl configure inbound ${account.table} --after mark-read`,
    };
  }
  const folderGone = w.action === 'move' && /TRYCREATE|NONEXISTENT|doesn't exist|does not exist|not found|ErrorItemNotFound/i.test(w.detail);
  return {
    severity: 'error',
    title: `${account.table}: "${w.action}" after processing failed; the messages are stored but still in ${account.folder}`,
    seen,
    cause: folderGone
      ? `The move folder "${account.moveTo ?? 'Processed'}" does not exist (any more). The messages were taken and committed; they stay in ${account.folder} and the move is tried again at every poll.`
      : `The server refused to ${w.action === 'mark-read' ? 'mark the messages read' : `${w.action} the messages`} (see its words above: permission, quota, a folder). The messages were taken and committed; they stay in ${account.folder} and the mark is tried again at every poll.`,
    fix: folderGone
      ? 'Create the folder again, or choose another one (configure inbound checks it, and creates it with --create-folder).'
      : 'Fix what the server names; the next poll marks the messages. Or choose another after-processing action.',
    command: folderGone
      ? `mailctl configure inbound ${account.table} --after move --move-to ${account.moveTo ?? 'Processed'} --create-folder`
      : `mailctl configure inbound ${account.table}`,
  };
}
