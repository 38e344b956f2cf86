/** Shows only the last 4 characters of a secret (all of it hidden when it is short). */
export function maskSecret(value: string): string {
  if (value === '') return '(empty)';
  if (value.length <= 8) return '*'.repeat(8);
  return `${'*'.repeat(8)}${value.slice(-4)}`;
}
