import type { Deps } from '../../deps.js';
import { ExitCode, UsageError } from '../../errors.js';
import { secretRefId, secretRefsIn } from '../../config/property-secrets.js';
import type { InboundAccount } from '../../inbound/inbound-config.js';
import { AuditRepo } from '../../store/audit-repo.js';
import { SyncRepo } from '../../store/sync-repo.js';

/** `mailctl inbound list` */
export async function runInboundList(deps: Deps): Promise<number> {
  const accounts = Object.values((await deps.config()).read().inbound ?? {});
  if (accounts.length === 0) deps.out.line('No inbound accounts yet. Create one with: mailctl configure inbound TABLE');
  else deps.out.table(accounts, [
    { header: 'TABLE', value: (a) => a.table },
    { header: 'PROTOCOL', value: (a) => a.protocol },
    { header: 'SERVER', value: (a) => (a.protocol === 'graph' ? (a.graphBaseUrl ?? 'graph.microsoft.com') : `${a.host}:${a.port} ${a.security}`) },
    { header: 'USER', value: (a) => a.auth.username },
    { header: 'FOLDER', value: (a) => a.folder },
    { header: 'NEW RECORDS', value: (a) => (a.allowRecordCreation ? 'yes' : 'no') },
    { header: 'UNKNOWN SENDER', value: (a) => (a.unknownSender === 'guest' ? `guest ${a.guestContact}` : a.unknownSender) },
    { header: 'AFTER', value: (a) => (a.afterProcessing === 'move' ? `move to ${a.moveTo}` : a.afterProcessing) },
    { header: 'STATE', value: (a) => (a.enabled ? 'enabled' : 'disabled') },
  ]);
  deps.out.data({
    ok: true,
    accounts: accounts.map(({ auth, properties, tlsCa, ...rest }) => ({ ...rest, auth: { type: auth.type, username: auth.username }, tlsCa: Boolean(tlsCa), hasProperties: Boolean(properties) })),
  });
  return ExitCode.ok;
}

/** `mailctl inbound remove TABLE`: the account and its secrets. */
export async function runInboundRemove(deps: Deps, table: string): Promise<number> {
  const configStore = await deps.config();
  const { store } = await deps.secrets();
  // The account removed is the one read under the lock: its secrets, not an older version's, are deleted next.
  let account: InboundAccount | undefined;
  configStore.update((config) => {
    account = config.inbound?.[table];
    if (!account) throw new UsageError('E_INBOUND_UNKNOWN', `There is no inbound account for the table "${table}".`, { command: 'mailctl inbound list' });
    delete config.inbound![table];
  });
  if (!account) return ExitCode.failure; // not reached: update threw
  const refs = [account.auth.type === 'password' ? account.auth.password : account.auth.clientSecret, ...secretRefsIn(account.properties ?? '').map((id) => `\${secret:${id}}`)];
  for (const ref of refs) {
    const id = ref ? secretRefId(ref) : undefined;
    if (id) await store.delete(id);
  }
  const db = await deps.db();
  new SyncRepo(db).forget(table);
  new AuditRepo(db, deps.clock).record({ actor: 'cli', action: 'inbound.remove', target: table });
  deps.out.success(`Removed the inbound account of ${table} (mail already processed stays in the communications).`);
  deps.out.data({ ok: true, removed: table });
  return ExitCode.ok;
}

/**
 * `mailctl inbound disable TABLE` / `enable TABLE`: stops or resumes polling one account without
 * removing it (its settings and secrets stay). A running daemon follows within 2 s.
 */
export async function runInboundEnable(deps: Deps, table: string, enabled: boolean): Promise<number> {
  const configStore = await deps.config();
  let was: boolean | undefined;
  configStore.update((config) => {
    const account = config.inbound?.[table];
    if (!account) throw new UsageError('E_INBOUND_UNKNOWN', `There is no inbound account for the table "${table}".`, { command: 'mailctl inbound list' });
    was = account.enabled;
    account.enabled = enabled;
  });
  new AuditRepo(await deps.db(), deps.clock).record({ actor: 'cli', action: enabled ? 'inbound.enable' : 'inbound.disable', target: table });
  const word = enabled ? 'enabled' : 'disabled';
  deps.out.success(was === enabled ? `The inbound account of ${table} was already ${word}.` : `The inbound account of ${table} is ${word}: ${enabled ? 'it is polled again' : 'it is not polled (its settings and secrets are kept; mailctl inbound enable ' + table + ' resumes it)'}.`);
  deps.out.data({ ok: true, table, enabled });
  return ExitCode.ok;
}

/** `mailctl inbound enable TABLE`. */
export const runInboundEnableCommand = (deps: Deps, table: string) => runInboundEnable(deps, table, true);
/** `mailctl inbound disable TABLE`. */
export const runInboundDisableCommand = (deps: Deps, table: string) => runInboundEnable(deps, table, false);
