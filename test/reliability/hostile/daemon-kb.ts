import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { expect } from 'vitest';
import { runCli } from '../../helpers/run-cli.js';
import type { RunningDaemon } from '../outage-daemon.js';

/** Issue 15 attacks: a KB with one table, an SMTP server, and IMAP accounts on a given port. */
export async function setUpKb(home: string, smtpPort: number) {
  const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
  const ok = async (args: string[], input?: string) => {
    const r = await runCli(args, { env, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
    expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0);
    return r;
  };
  await ok(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
  await ok(['tables', 'add', 'contracts']);
  await ok(['contacts', 'add', 'pat@acme.test', '--can-create', 'contracts']);
  await ok(['configure', 'server', '--host', '127.0.0.1', '--port', String(smtpPort), '--security', 'none', '--auth', 'none', '--from', 'contracts@acme.test']);
  const inbound = (table: string, port: number, password: string, extra: string[] = []) => ok(['configure', 'inbound', table, '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(port), '--security', 'none', '--auth', 'password',
    '--username', `${table}@acme.test`, '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore', '--notes', 'new-text', '--after', 'mark-read', '--no-verify', ...extra], password);
  const record = JSON.parse((await ok(['records', 'add', '--table', 'contracts', '--title', 'MSA', '--json'])).stdout).record as { id: number };
  return { env, ok, inbound, recordId: record.id, home };
}

export const polls = (daemon: RunningDaemon, table: string) => daemon.logLines().filter((l) => l.msg === `polled ${table}` || l.msg === `polling ${table} failed`).length;

export function sql<T>(home: string, query: string, ...params: unknown[]): T {
  const db = new Sqlite(join(home, 'mailctl.db'));
  try {
    const statement = db.prepare(query);
    return (statement.reader ? statement.all(...params) : statement.run(...params)) as T;
  } finally {
    db.close();
  }
}
