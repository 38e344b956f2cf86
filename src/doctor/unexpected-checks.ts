import type { DoctorCheck } from './finding.js';
import { lookBackDays } from './sending-checks.js';

/** The same rule sending the same record to the same people this often is a loop, not news. */
const repeatThreshold = 3;

/** The source guide's "Unexpected or duplicate emails": a test KB that mails real people, rules firing twice. */
export const unexpectedChecks: DoctorCheck[] = [
  {
    id: 'outbound.nonproduction',
    symptom: 'unexpected',
    areas: ['outbound', 'config'],
    network: false,
    run({ config, globals, db }, report) {
      const kb = config.kb;
      if (!kb) return;
      if (kb.environment === 'production') {
        report.passed({ check: this.id, symptom: this.symptom, summary: `${kb.name} is the production KB` });
        return;
      }
      if (globals.nonproduction_redirect) {
        report.passed({ check: this.id, symptom: this.symptom, summary: `${kb.name} is a ${kb.environment} KB: all its mail goes to ${globals.nonproduction_redirect}` });
        return;
      }
      if (globals.nonproduction_allow_outbound) {
        report.finding({
          check: this.id, symptom: this.symptom, severity: 'error',
          title: `This ${kb.environment} KB sends to real recipients`,
          seen: `environment ${kb.environment}, nonproduction_allow_outbound = true, nonproduction_redirect empty`,
          cause: 'A copy of production (same rules, same contacts) mails real people: the source guide\'s "mail daemons for a test KB are running when they should be disabled".',
          fix: 'Redirect all of its mail to a test mailbox (or turn outbound off for it).',
          command: 'mailctl config set nonproduction_redirect test-inbox@example.com',
        });
        return;
      }
      const held = (db.prepare(`SELECT count(*) AS n FROM outbound_queue WHERE status = 'held'`).get() as { n: number }).n;
      report.passed({ check: this.id, symptom: this.symptom, summary: `${kb.name} is a ${kb.environment} KB: its mail is held, not sent (${held} held)` });
    },
  },
  {
    id: 'queue.duplicates',
    symptom: 'unexpected',
    areas: ['queue'],
    network: false,
    run({ db, clock }, report) {
      const since = new Date(clock.now().getTime() - lookBackDays * 86_400_000).toISOString();
      const groups = db.prepare(`SELECT rule_id AS rule, count(*) AS n, count(DISTINCT record_id) AS records, max(created_at) AS last, min(id) AS firstId
        FROM outbound_queue WHERE status = 'duplicate' AND created_at >= ? GROUP BY rule_id ORDER BY n DESC`).all(since) as Array<{ rule: string | null; n: number; records: number; last: string; firstId: number }>;
      if (groups.length === 0) {
        report.passed({ check: this.id, symptom: this.symptom, summary: `no duplicate held back in the last ${lookBackDays} days` });
        return;
      }
      for (const g of groups) {
        const who = g.rule ? `rule ${g.rule}` : 'messages sent without a rule';
        report.finding({
          check: this.id, symptom: this.symptom, severity: 'warning',
          title: `${g.n} duplicate(s) from ${who} held back in the last ${lookBackDays} days`,
          seen: `${g.n} message(s) identical to one already queued (same rule, record, recipients and content), over ${g.records} record(s); last ${g.last}`,
          cause: g.rule ? `The rule ran more than once for the same record, e.g. an unexpected API trigger (the source guide). The copies were not sent.` : 'The same message was queued twice (a script or a person sent it again). The copies were not sent.',
          fix: g.rule ? `Review rule ${g.rule}'s trigger in the KB. If a copy really should go: mailctl queue retry ID.` : 'Find who queued it twice; send a copy (mailctl queue retry ID) only if it really should go.',
          command: `mailctl queue list --status duplicate`,
        });
      }
    },
  },
  {
    id: 'queue.rule-repeats',
    symptom: 'unexpected',
    areas: ['queue'],
    network: false,
    run({ db, clock }, report) {
      const since = new Date(clock.now().getTime() - lookBackDays * 86_400_000).toISOString();
      const loops = db.prepare(`SELECT rule_id AS rule, table_name AS tbl, record_id AS record, to_addrs AS recipients, count(*) AS n, max(created_at) AS last
        FROM outbound_queue WHERE rule_id IS NOT NULL AND status IN ('sent', 'queued', 'deferred', 'sending') AND created_at >= ?
        GROUP BY rule_id, table_name, record_id, to_addrs HAVING count(*) >= ? ORDER BY n DESC LIMIT 20`).all(since, repeatThreshold) as Array<{ rule: string; tbl: string | null; record: number | null; recipients: string; n: number; last: string }>;
      if (loops.length === 0) {
        report.passed({ check: this.id, symptom: this.symptom, summary: `no rule mailed the same record to the same people ${repeatThreshold}+ times in the last ${lookBackDays} days` });
        return;
      }
      for (const l of loops) {
        report.finding({
          check: this.id, symptom: this.symptom, severity: 'warning',
          title: `Rule ${l.rule} mailed ${l.tbl ?? 'a'} record ${l.record ?? '?'} to ${l.recipients.split(',').join(', ')} ${l.n} times in the last ${lookBackDays} days`,
          seen: `${l.n} messages (content differed each time, so none was held back as a duplicate); last ${l.last}`,
          cause: 'The rule keeps firing for the same record: its trigger matches its own update, or an integration keeps touching the record.',
          fix: `Review rule ${l.rule}'s trigger in the KB; the reference in each message's headers names the rule (mailctl headers decode).`,
          command: `mailctl comms list${l.tbl ? ` --table ${l.tbl}` : ''}${l.record !== null ? ` --record ${l.record}` : ''}`,
        });
      }
    },
  },
];
