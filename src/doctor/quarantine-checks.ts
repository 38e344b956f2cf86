import { CommunicationsRepo } from '../store/communications-repo.js';
import { mailLine } from '../ui/output.js';
import type { DoctorCheck } from './finding.js';
import { lookBackDays } from './sending-checks.js';

/** Quarantined messages named in the finding; the rest are counted. */
const named = 5;

/** A one-line field from mail, cut: a 3 MB subject is why some messages are quarantined. */
const short = (text: string | null, max: number) => {
  const line = mailLine(text ?? '');
  return [...line].length > max ? `${[...line].slice(0, max - 1).join('')}…` : line;
};

/**
 * Mail that arrived but reached no record because it was quarantined (it could not be parsed,
 * or processing failed) and nobody replayed it: nothing else tells the admin, and to the
 * sender it looks like "no email is received". A replay quarantined again counts, its
 * original does not.
 */
export const quarantineChecks: DoctorCheck[] = [
  {
    id: 'inbound.quarantined',
    symptom: 'not-moving',
    areas: ['inbound'],
    network: false,
    run({ db, clock }, report) {
      const since = new Date(clock.now().getTime() - lookBackDays * 86_400_000).toISOString();
      const q = new CommunicationsRepo(db, clock).quarantinedNotReplayed(since, named);
      if (q.total === 0) {
        report.passed({ check: this.id, symptom: this.symptom, summary: `no message quarantined (and not replayed) in the last ${lookBackDays} days` });
        return;
      }
      const accounts = Object.entries(q.byAccount).map(([account, n]) => `${n} in ${mailLine(account || '(no account)')}`).join(', ');
      const listed = q.newest.map((c) => `communication ${c.id} from ${short(c.from, 60) || '(no sender)'}, "${short(c.subject, 60)}": ${short(c.reason, 120) || '(no reason)'}`);
      report.finding({
        check: this.id, symptom: this.symptom, severity: 'warning',
        title: `${q.total} message(s) quarantined in the last ${lookBackDays} days and not replayed (${accounts})`,
        seen: `${q.total > q.newest.length ? `the newest ${q.newest.length}: ` : ''}${listed.join('; ')}`,
        cause: 'These messages arrived and are stored, but reached no record: mailctl could not parse or process them (the reason is given for each). Their senders see no effect.',
        fix: `See why (mailctl comms show ID); after fixing the cause: mailctl comms replay ID${q.newest[0] ? ` (e.g. mailctl comms replay ${q.newest[0].id})` : ''}.`,
        command: `mailctl comms list --disposition quarantined --since ${lookBackDays}d`,
      });
    },
  },
];
