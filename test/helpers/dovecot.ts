import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, waitForPort } from './free-port.js';
import { requireBinary } from './require-binary.js';
import { makeSelfSignedCert, type TestCert } from './tls-cert.js';

export interface DovecotUser {
  name: string;
  password: string;
}

export interface DovecotOptions {
  users: DovecotUser[];
  /** Serve STARTTLS and implicit TLS (imaps/pop3s) with a self-signed certificate. */
  tls?: boolean;
  /** Extra folders to create for every user (besides INBOX). */
  folders?: string[];
  /** Accept XOAUTH2/OAUTHBEARER, checking tokens at this introspection URL (TESTING-NOTES.md). */
  oauth2?: { introspectionUrl: string; caFile: string };
  /**
   * Capabilities the server does not advertise after login (e.g. ["MOVE", "UIDPLUS"]): a server
   * with fewer extensions, through `imap_capability` (TESTING-NOTES.md).
   */
  imapCapabilitiesWithout?: string[];
}

/** What Dovecot 2.3 advertises after login by default (its CAPABILITY_STRING). */
export const dovecotImapCapabilities = [
  'IMAP4rev1', 'SASL-IR', 'LOGIN-REFERRALS', 'ID', 'ENABLE', 'IDLE', 'SORT', 'SORT=DISPLAY', 'THREAD=REFERENCES', 'THREAD=REFS',
  'THREAD=ORDEREDSUBJECT', 'MULTIAPPEND', 'URL-PARTIAL', 'CATENATE', 'UNSELECT', 'CHILDREN', 'NAMESPACE', 'UIDPLUS', 'LIST-EXTENDED',
  'I18NLEVEL=1', 'CONDSTORE', 'QRESYNC', 'ESEARCH', 'ESORT', 'SEARCHRES', 'WITHIN', 'CONTEXT=SEARCH', 'LIST-STATUS', 'BINARY', 'MOVE',
  'SNIPPET=FUZZY', 'PREVIEW=FUZZY', 'PREVIEW', 'STATUS=SIZE', 'SAVEDATE', 'LITERAL+', 'NOTIFY',
];

/** A message file in a maildir folder, with its maildir flags (S seen, T \Deleted, …). */
export interface MaildirMessage {
  raw: string;
  flags: string;
}

export interface Dovecot {
  imapPort: number;
  imapsPort: number;
  pop3Port: number;
  pop3sPort: number;
  cert: TestCert | undefined;
  dir: string;
  /** The maildir of a user, for dropping messages in directly. */
  maildir(user: string): string;
  /**
   * Delivers a raw message into a user's INBOX (or folder): new and unseen, or already read
   * (`seen`), or with maildir flags (`flags: "T"` is \Deleted, "ST" read and \Deleted).
   */
  deliver(user: string, raw: string | Buffer, folder?: string, options?: { seen?: boolean; flags?: string }): void;
  /** The messages in a user's INBOX (or folder) as they are on disk, flags included. */
  messages(user: string, folder?: string): MaildirMessage[];
  log(): string;
  /**
   * A server restart: stops Dovecot, cutting every open IMAP/POP3 session at once (its
   * session processes are killed: Dovecot's master alone lets them run on), runs
   * `whileDown`, then starts Dovecot again with the same config, ports and mail.
   */
  restart(whileDown?: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

let mailIds: { uid: number; gid: number } | undefined;
function mailUser(): { uid: number; gid: number } {
  if (!mailIds) {
    const uid = Number(execFileSync('id', ['-u', 'mail'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'mail'], { encoding: 'utf8' }).trim());
    mailIds = { uid, gid };
  }
  return mailIds;
}

let deliveries = 0;

/**
 * A real Dovecot (IMAP + POP3) on free loopback ports, configured from scratch in a
 * temp dir (TESTING-NOTES.md): passwd-file users, maildirs owned by `mail`.
 */
export async function startDovecot(options: DovecotOptions): Promise<Dovecot> {
  const binary = requireBinary('dovecot', 'dovecot-imapd dovecot-pop3d');
  const dir = mkdtempSync(join(tmpdir(), 'mailctl-dovecot-'));
  chmodSync(dir, 0o755);
  const mailRoot = join(dir, 'mail');
  mkdirSync(mailRoot, { mode: 0o755 });
  const { uid, gid } = mailUser();
  chownSync(mailRoot, uid, gid);
  const [imapPort, imapsPort, pop3Port, pop3sPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const cert = options.tls ? makeSelfSignedCert(dir) : undefined;
  if (cert) chmodSync(cert.keyPath, 0o644);

  writeFileSync(join(dir, 'passwd'), options.users.map((u) => `${u.name}:{PLAIN}${u.password}::::::\n`).join(''));
  const maildir = (user: string) => join(mailRoot, user, 'Maildir');
  for (const user of options.users) {
    for (const folder of ['', ...(options.folders ?? []).map((f) => `.${f}`)]) {
      for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(maildir(user.name), folder, sub), { recursive: true });
    }
    execFileSync('chown', ['-R', `${uid}:${gid}`, join(mailRoot, user.name)]);
  }

  const conf = `
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
info_log_path = ${dir}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
disable_plaintext_auth = no
auth_mechanisms = plain login${options.oauth2 ? ' xoauth2 oauthbearer' : ''}
first_valid_uid = 1
# Tests check wrong passwords often; the default 2 s penalty only slows them down.
auth_failure_delay = 0
mail_location = maildir:${mailRoot}/%u/Maildir
passdb {
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u ${dir}/passwd
}
${options.oauth2 ? `passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = ${dir}/oauth2.conf
}` : ''}
userdb {
  driver = static
  args = uid=${uid} gid=${gid} home=${mailRoot}/%u
}
namespace inbox {
  inbox = yes
  separator = /
}
# No growing per-IP delay after failed logins: every test connects from 127.0.0.1.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
pop3_uidl_format = %08Xu%08Xv
ssl = ${cert ? 'yes' : 'no'}
${cert ? `ssl_cert = <${cert.certPath}\nssl_key = <${cert.keyPath}` : ''}
${options.imapCapabilitiesWithout ? `protocol imap {
  imap_capability = ${dovecotImapCapabilities.filter((c) => !options.imapCapabilitiesWithout!.includes(c)).join(' ')}
}` : ''}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${imapPort}
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = ${cert ? imapsPort : 0}
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = ${pop3Port}
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = ${cert ? pop3sPort : 0}
    ssl = yes
  }
}
`;
  if (options.oauth2) {
    // Dovecot's auth process runs unprivileged: give it a readable copy of the CA.
    const caCopy = join(dir, 'oauth-ca.crt');
    writeFileSync(caCopy, readFileSync(options.oauth2.caFile), { mode: 0o644 });
    writeFileSync(join(dir, 'oauth2.conf'), [
      'introspection_mode = post',
      `introspection_url = ${options.oauth2.introspectionUrl}`,
      'username_attribute = email',
      'active_attribute = active',
      'active_value = true',
      `tls_ca_cert_file = ${caCopy}`,
      '',
    ].join('\n'));
  }
  const confPath = join(dir, 'dovecot.conf');
  writeFileSync(confPath, conf);
  const launch = async (): Promise<{ child: ChildProcess; exited: Promise<void> }> => {
    const child: ChildProcess = spawn(binary, ['-F', '-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await Promise.race([
        Promise.all([waitForPort(imapPort), waitForPort(pop3Port)]),
        exited.then(() => { throw new Error(`dovecot exited at start:\n${output}\n${readLog(dir)}`); }),
      ]);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
    return { child, exited };
  };
  const halt = async (server: { child: ChildProcess; exited: Promise<void> }) => {
    server.child.kill('SIGTERM');
    await Promise.race([server.exited, new Promise((r) => setTimeout(r, 5000))]);
    if (server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
  };
  let server: { child: ChildProcess; exited: Promise<void> };
  try {
    server = await launch();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  return {
    imapPort,
    imapsPort,
    pop3Port,
    pop3sPort,
    cert,
    dir,
    maildir,
    deliver(user, raw, folder, deliverOptions) {
      const base = folder ? join(maildir(user), `.${folder}`) : maildir(user);
      const name = `${Date.now()}.M${process.pid}P${deliveries++}.mailctl-test`;
      const tmp = join(base, 'tmp', name);
      writeFileSync(tmp, raw);
      chownSync(tmp, uid, gid);
      // Maildir: a message read by hand sits in cur/ with the S (seen) flag; T is \Deleted.
      const flags = deliverOptions?.flags ?? (deliverOptions?.seen ? 'S' : undefined);
      execFileSync('mv', [tmp, flags ? join(base, 'cur', `${name}:2,${flags}`) : join(base, 'new', name)]);
    },
    messages(user, folder) {
      const base = folder ? join(maildir(user), `.${folder}`) : maildir(user);
      const found: MaildirMessage[] = [];
      for (const sub of ['new', 'cur']) {
        const dir = join(base, sub);
        if (!existsSync(dir)) continue;
        for (const file of readdirSync(dir)) found.push({ raw: readFileSync(join(dir, file), 'utf8'), flags: /:2,([A-Za-z]*)$/.exec(file)?.[1] ?? '' });
      }
      return found;
    },
    log: () => readLog(dir),
    async restart(whileDown) {
      const sessions = childPids(server.child.pid!);
      const halted = halt(server);
      for (const pid of sessions) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await halted;
      // Dovecot's login processes hold the listeners too: wait until they are gone.
      await Promise.all([waitForPortClosed(imapPort), waitForPortClosed(pop3Port)]);
      await whileDown?.();
      server = await launch();
    },
    async stop() {
      await halt(server);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The processes whose parent is `parent` (from /proc). */
function childPids(parent: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid …": comm may hold spaces, so read after its closing parenthesis.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) pids.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return pids;
}

async function waitForPortClosed(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (!open) return;
    if (Date.now() > deadline) throw new Error(`127.0.0.1:${port} still accepts connections ${timeoutMs} ms after dovecot stopped`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function readLog(dir: string): string {
  const path = join(dir, 'dovecot.log');
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}
