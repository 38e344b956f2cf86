import type { UntrustedPath } from '../fs/trusted-paths.js';
import type { Finding } from './finding.js';

/**
 * Doctor's findings for files and folders another user could have changed (one each). Doctor
 * reports them before reading anything, and reads nothing else: the config it would check may
 * be the other user's.
 */
export function untrustedPathFindings(found: readonly UntrustedPath[]): Finding[] {
  return found.map((f) => f.above ? aboveFinding(f, f.above) : {
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
  });
}

/** A folder or link on the way to mailctl's folder (`above`) that another user could change. */
function aboveFinding(f: UntrustedPath, above: string): Finding {
  return {
    check: 'config.permissions',
    symptom: 'configuration',
    severity: 'error',
    title: `${f.path} (on the way to ${above}) is ${f.problem === 'owner' ? `${f.kind === 'link' ? 'a link ' : ''}not owned by this user or root` : 'writable by other users and not sticky'}`,
    seen: `${f.path} is ${f.says}; ${above} holds ${f.holds}`,
    cause: 'Another local user can rename what is in it, and so put a folder of their own in place of mailctl\'s between its checks and its reads and writes (as ssh\'s StrictModes judges the folders above a key file), so every command refuses to use it.',
    fix: f.problem === 'owner'
      ? `Use a folder only you and root can reach (set MAILCTL_HOME), or have root take ${f.path} over; then check nothing in ${above} was changed by someone else.`
      : `Take the others' write permission away (a folder everyone must write to gets the sticky bit instead, chmod +t, as /tmp), or set MAILCTL_HOME to a folder whose parents only you and root can write; then check nothing in ${above} was changed by someone else.`,
    command: f.command,
  };
}
