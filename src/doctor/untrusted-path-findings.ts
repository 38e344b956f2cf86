import type { UntrustedPath } from '../fs/trusted-paths.js';
import type { Finding } from './finding.js';

/**
 * Doctor's findings for files and folders another user could have changed (one each). Doctor
 * reports them before reading anything, and reads nothing else: the config it would check may
 * be the other user's.
 */
export function untrustedPathFindings(found: readonly UntrustedPath[]): Finding[] {
  return found.map((f) => ({
    check: 'config.permissions',
    symptom: 'configuration',
    severity: 'error',
    title: `${f.path} is ${f.problem === 'owner' ? 'not owned by this user' : 'writable by other users'}`,
    seen: `${f.path} holds ${f.holds}; it is ${f.says}`,
    cause: f.problem === 'owner'
      ? 'Another user owns it, so they can change it, and every command refuses to use it (as ssh refuses a key file others can change).'
      : 'Another local user can replace or edit what is in it (the config, and with it the servers mailctl sends passwords to), so every command refuses to use it.',
    fix: f.problem === 'owner'
      ? 'Check that nothing in it was changed by someone else, then make it yours (as root), or set MAILCTL_HOME to a folder of your own.'
      : 'Check that nothing in it was changed by someone else, then take the group and others\' write permission away.',
    command: f.command,
  }));
}
