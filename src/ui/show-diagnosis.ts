import type { Diagnosis } from '../diagnosis/diagnosis.js';
import type { Output } from './output.js';

/** Prints a diagnosis under a failure line: the cause, the fix and the command. */
export function showDiagnosis(out: Output, diagnosis: Diagnosis, serverSaid?: string | null): void {
  if (serverSaid) out.line(`  server said: ${serverSaid}`);
  out.line(`  cause: ${diagnosis.cause}`);
  out.line(`  fix:   ${diagnosis.fix}`);
  if (diagnosis.command) out.line(`  try:   ${diagnosis.command}`);
}
