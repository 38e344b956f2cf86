import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Finds a server binary or fails with the exact command that installs it (tests never skip silently). */
export function requireBinary(name: string, debianPackages: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/sbin'];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  throw new Error(`${name} is not installed; the tests need it. Install it with: apt-get update && apt-get install -y ${debianPackages}`);
}
