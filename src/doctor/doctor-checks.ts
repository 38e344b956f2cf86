import { configChecks } from './config-checks.js';
import { deliveryChecks } from './delivery-checks.js';
import { mailboxChecks } from './mailbox-checks.js';
import { sectionArea, type DoctorArea, type DoctorCheck, type DoctorContext, type Finding, type Passed } from './finding.js';
import { oauthChecks } from './oauth-checks.js';
import { sendingChecks } from './sending-checks.js';
import { quarantineChecks } from './quarantine-checks.js';
import { storeChecks } from './store-checks.js';
import { unexpectedChecks } from './unexpected-checks.js';

/**
 * Every check, in the order they run: the server logins first (they renew OAuth tokens and
 * learn the server's SIZE), then what reads their results. Display order is by symptom.
 */
export const doctorChecks: readonly DoctorCheck[] = [...deliveryChecks, ...mailboxChecks, ...quarantineChecks, ...sendingChecks, ...unexpectedChecks, ...oauthChecks, ...configChecks, ...storeChecks];

export interface DoctorResult {
  findings: Finding[];
  passed: Passed[];
  /** Checks not run because of --no-network. */
  skipped: string[];
}

/** A check of `area`: listed in it, and not shown in another area's own section (Configuration, OAuth, Stored messages). */
export function runsUnder(check: DoctorCheck, area: DoctorArea): boolean {
  return check.areas.includes(area) && (sectionArea[check.symptom] ?? area) === area;
}

/** Runs the chosen checks; a check that throws becomes a finding, so one broken check never hides the rest. */
export async function runDoctorChecks(ctx: DoctorContext, options: { only?: DoctorArea; network: boolean }): Promise<DoctorResult> {
  const result: DoctorResult = { findings: [], passed: [], skipped: [] };
  const report = { finding: (f: Finding) => result.findings.push(f), passed: (p: Passed) => result.passed.push(p) };
  for (const check of doctorChecks) {
    if (options.only && !runsUnder(check, options.only)) continue;
    if (check.network && !options.network) {
      result.skipped.push(check.id);
      continue;
    }
    try {
      await check.run(ctx, report);
    } catch (error) {
      const e = error as Error & { fix?: string; command?: string };
      result.findings.push({
        check: check.id, symptom: check.symptom, severity: 'error',
        title: `The check ${check.id} could not run`,
        seen: e.message,
        cause: 'Something it needs is missing or broken (see the words above).',
        fix: e.fix ?? 'Fix what the message names and run doctor again.',
        ...(e.command ? { command: e.command } : {}),
      });
    }
  }
  return result;
}
