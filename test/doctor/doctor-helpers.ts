import { expect } from 'vitest';
import { runCli, type CliResult } from '../helpers/run-cli.js';

export interface DoctorFinding { check: string; symptom: string; severity: string; title: string; seen: string; cause: string; fix: string; command?: string }
export interface DoctorReport { ok: boolean; findings: DoctorFinding[]; passed: Array<{ check: string; summary: string }>; skipped: string[]; counts: Record<string, number> }

/** Parses a `doctor --json` run (exit 0 or 1, never anything else). */
export function doctorReport(result: CliResult): DoctorReport {
  expect([0, 1], result.stderr).toContain(result.code);
  const report = JSON.parse(result.stdout) as DoctorReport;
  expect(result.code).toBe(report.ok ? 0 : 1);
  return report;
}

export async function doctor(env: Record<string, string>, ...args: string[]): Promise<DoctorReport> {
  return doctorReport(await runCli(['doctor', '--json', ...args], { env, timeoutMs: 60_000 }));
}

export function findingsOf(report: DoctorReport, check: string): DoctorFinding[] {
  return report.findings.filter((f) => f.check === check);
}

/** A KB with a table, a contact and a record, ready for `send`. */
export async function newKb(env: Record<string, string>, environment: 'production' | 'test' = 'production'): Promise<{ recordId: number }> {
  const init = await runCli(['init', '--name', 'acme', '--url', 'https://records.acme.test', '--environment', environment], { env });
  expect(init.code, init.stderr).toBe(0);
  await runCli(['tables', 'add', 'contracts'], { env });
  await runCli(['contacts', 'add', 'pat@acme.test', '--can-create', 'contracts'], { env });
  const record = await runCli(['records', 'add', '--table', 'contracts', '--title', 'MSA renewal', '--json'], { env });
  expect(record.code, record.stderr).toBe(0);
  return { recordId: JSON.parse(record.stdout).record.id as number };
}

export async function ok(env: Record<string, string>, args: string[], input?: string): Promise<CliResult> {
  const r = await runCli(args, { env, ...(input !== undefined ? { input } : {}), timeoutMs: 60_000 });
  expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0);
  return r;
}
