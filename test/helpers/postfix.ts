import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './free-port.js';
import { requireBinary } from './require-binary.js';

export interface Postfix {
  port: number;
  dir: string;
  log(): string;
  stop(): Promise<void>;
}

const services = `
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;

/**
 * A real Postfix MTA on a free loopback port (TESTING-NOTES.md): it accepts mail for
 * `domain` and delivers it into the maildirs Dovecot serves (`mailRoot/<user>/Maildir/`).
 */
export async function startPostfix(options: { domain: string; mailboxes: string[]; mailRoot: string }): Promise<Postfix> {
  const binary = requireBinary('postfix', 'postfix');
  const dir = mkdtempSync(join(tmpdir(), 'mailctl-postfix-'));
  chmodSync(dir, 0o755); // postfix's daemons run as the postfix user and must reach the queue
  const port = await freePort();
  const uid = Number(spawnSync('id', ['-u', 'mail'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'mail'], { encoding: 'utf8' }).stdout.trim());
  mkdirSync(join(dir, 'queue'));
  mkdirSync(join(dir, 'data'));
  spawnSync('chown', ['postfix', join(dir, 'data')]);
  writeFileSync(join(dir, 'vmailbox'), options.mailboxes.map((m) => `${m} ${m}/Maildir/\n`).join(''));
  writeFileSync(join(dir, 'main.cf'), `
compatibility_level = 3.6
queue_directory = ${dir}/queue
data_directory = ${dir}/data
maillog_file = /dev/stdout
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
myhostname = mx.${options.domain}
mydestination =
alias_maps =
alias_database =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = ${options.domain}
virtual_mailbox_base = ${options.mailRoot}
virtual_mailbox_maps = texthash:${dir}/vmailbox
virtual_uid_maps = static:${uid}
virtual_gid_maps = static:${gid}
virtual_minimum_uid = 1
smtpd_banner = $myhostname ESMTP mailctl-test
`);
  writeFileSync(join(dir, 'master.cf'), `127.0.0.1:${port} inet n - n - - smtpd\n${services}`);

  // Postfix logs to /dev/stdout (maillog_file): that must be a file, since with a pipe
  // postfix-script stalls before starting the master.
  const logPath = join(dir, 'postfix.log');
  const logFd = openSync(logPath, 'w');
  const child: ChildProcess = spawn(binary, ['-c', dir, 'start-fg'], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const output = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await Promise.race([waitForPort(port, 20_000), exited.then(() => { throw new Error(`postfix exited at start:\n${output()}`); })]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    port,
    dir,
    log: output,
    async stop() {
      spawnSync(binary, ['-c', dir, 'stop'], { stdio: 'ignore' });
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
