import type { Deps } from '../../deps.js';
import { ExitCode, UsageError } from '../../errors.js';
import { resolveGlobals } from '../../config/globals.js';
import { parseDuration } from '../../config/units.js';
import { requireKb } from '../../kb/load-kb.js';
import { doctorAreas, symptoms, type DoctorArea, type Finding, type Passed, type Severity, type Symptom } from '../../doctor/finding.js';
import { snapshotFileModes } from '../../doctor/config-checks.js';
import { runDoctorChecks, type DoctorResult } from '../../doctor/doctor-checks.js';
import { untrustedPathFindings } from '../../doctor/untrusted-path-findings.js';
import { pathsToTrust, untrustedPaths } from '../../fs/trusted-paths.js';
import { appendTargetProblem } from '../../fs/open-private-append.js';

export interface DoctorOptions {
  only?: string;
  /** The daemon's --log-file, checked as the daemon would open it. */
  logFile?: string;
  network: boolean;
  timeout: string;
  verifyStore?: boolean;
}

const severityOrder: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** `mailctl doctor`: the troubleshooting page, run against this installation. Exit 1 on any error-level finding. */
export async function runDoctor(deps: Deps, options: DoctorOptions): Promise<number> {
  const only = options.only;
  if (only !== undefined && !doctorAreas.includes(only as DoctorArea)) {
    throw new UsageError('E_DOCTOR_ONLY', `--only "${only}" is not one of: ${doctorAreas.join(', ')}.`);
  }
  const timeoutMs = parseDuration(options.timeout);
  if (timeoutMs === undefined || timeoutMs < 1000) throw new UsageError('E_TIMEOUT', `--timeout "${options.timeout}" is not a duration of at least 1s.`);
  // Before anything is read: a config another user could have written is not checked, it is refused.
  const untrusted = untrustedPaths(pathsToTrust(deps.paths, ['config', 'secrets', 'database', 'messages']));
  if (untrusted.length > 0) {
    const findings = untrustedPathFindings(untrusted);
    show(deps, { findings, passed: [], skipped: [] });
    deps.out.line('Doctor stopped there: it reads nothing that another user could have changed.');
    deps.out.data({ ok: false, counts: { ...countBySeverity(findings), passed: 0, skipped: 0 }, findings, passed: [], skipped: [] });
    return ExitCode.failure;
  }
  const configStore = await deps.config();
  const config = configStore.read();
  requireKb(config);
  const fileModes = snapshotFileModes(deps.paths, configStore.path);
  const [db, secrets, messages] = await Promise.all([deps.db(), deps.secrets(), deps.messageStore()]);
  const result = await runDoctorChecks(
    { config, globals: resolveGlobals(config.globals ?? {}), paths: deps.paths, configPath: configStore.path, fileModes, clock: deps.clock, db, messages, verifyStore: Boolean(options.verifyStore), secrets, timeoutMs },
    { ...(only ? { only: only as DoctorArea } : {}), network: options.network },
  );
  if (options.logFile !== undefined && (!only || only === 'config')) {
    const log = logFileCheck(options.logFile);
    if ('title' in log) result.findings.push(log);
    else result.passed.push(log);
  }
  show(deps, result);
  const counts = countBySeverity(result.findings);
  deps.out.data({ ok: counts.error === 0, counts: { ...counts, passed: result.passed.length, skipped: result.skipped.length }, findings: result.findings, passed: result.passed, skipped: result.skipped });
  return counts.error > 0 ? ExitCode.failure : ExitCode.ok;
}

/** The daemon's --log-file as the daemon would judge it on opening (nothing is created). */
function logFileCheck(path: string): Finding | Passed {
  const problem = appendTargetProblem({ path, what: 'the daemon\'s log', flag: '--log-file' });
  if (!problem) return { check: 'config.log-file', symptom: 'configuration', summary: `the daemon's log ${path}: only this user and root can change it or the folders above it` };
  return {
    check: 'config.log-file', symptom: 'configuration', severity: 'error',
    title: `the daemon's log ${path} would be refused (${problem.code})`,
    seen: problem.message,
    cause: 'mailctl daemon --log-file appends only to a regular file of its own, reached through folders only this user and root can change; anything else could send its lines into another file, or let another user write or read them. The daemon refuses to start.',
    fix: problem.fix ?? 'Give --log-file a new name in a folder of your own.',
    ...(problem.command ? { command: problem.command } : {}),
  };
}

function countBySeverity(findings: Finding[]): Record<Severity, number> {
  const counts: Record<Severity, number> = { error: 0, warning: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  return counts;
}

function show(deps: Deps, result: DoctorResult): void {
  const { out } = deps;
  const c = out.color;
  const mark: Record<Severity, string> = { error: c.red('✗ error  '), warning: c.yellow('! warning'), info: c.cyan('i info   ') };
  for (const symptom of Object.keys(symptoms) as Symptom[]) {
    const findings = result.findings.filter((f) => f.symptom === symptom).sort((a, b) => severityOrder[a.severity] - severityOrder[b.severity]);
    const passed = result.passed.filter((p) => p.symptom === symptom);
    if (findings.length === 0 && passed.length === 0) continue;
    out.line(c.bold(symptoms[symptom]));
    for (const f of findings) {
      out.line(`  ${mark[f.severity]} ${f.title}`);
      out.line(`      seen:  ${f.seen}`);
      out.line(`      cause: ${f.cause}`);
      out.line(`      fix:   ${f.fix}`);
      if (f.command) out.line(`      run:   ${f.command}`);
    }
    for (const p of passed) out.line(`  ${c.green('✓')} ${p.summary}`);
    out.line();
  }
  const counts = countBySeverity(result.findings);
  const parts = [`${counts.error} error(s)`, `${counts.warning} warning(s)`, `${result.passed.length} check(s) passed`];
  if (result.skipped.length) parts.push(`${result.skipped.length} network check(s) skipped (--no-network)`);
  const line = parts.join(', ');
  out.line(counts.error ? c.red(line) : counts.warning ? c.yellow(line) : c.green(line));
}
