import type { Deps } from '../../deps.js';
import { graphUrlProblem } from '../../inbound/graph-url.js';
import { ExitCode, UsageError, UserError } from '../../errors.js';
import { isEmailAddress } from '../../config/globals.js';
import { parseDuration } from '../../config/units.js';
import { dropUnusedSecrets, externalizeSecrets, secretRef } from '../../config/property-secrets.js';
import { accountWhere, checkMailbox, checkServer } from '../../inbound/check-account.js';
import { InboundFailure } from '../../inbound/inbound-failure.js';
import { reportInboundFailure } from '../../inbound/inbound-report.js';
import type { MailSource } from '../../inbound/mail-source.js';
import { OAuthFailure } from '../../auth/oauth-failure.js';
import {
  afterProcessingChoices, defaultGraphBaseUrl, defaultInboundPort,
  type AfterProcessing, type InboundAccount, type InboundProtocol, type NotesContent, type UnknownSenderPolicy,
} from '../../inbound/inbound-config.js';
import type { InboundFailureReport } from '../../inbound/inbound-report.js';
import { openSource } from '../../inbound/open-source.js';
import type { OAuthProvider } from '../../outbound/outbound-config.js';
import type { SmtpSecurity } from '../../outbound/smtp-session.js';
import { AuditRepo } from '../../store/audit-repo.js';
import { ContactsRepo } from '../../store/contacts-repo.js';
import { TablesRepo } from '../../store/tables-repo.js';
import { readTextFile } from '../../ui/read-text-file.js';
import { showDiagnosis } from '../../ui/show-diagnosis.js';
import { OAuthTokenProvider } from '../../auth/oauth-token-provider.js';
import { oauthSettingsOf } from '../../auth/token-provider-for.js';
import { dropTokens, moveTokens } from '../../auth/token-cache.js';
import { acquireForWizard } from './acquire-for-wizard.js';
import type { AccountFlags } from './account-flags.js';
import { isDelegated } from '../../auth/oauth-settings.js';
import { findOccurrences } from '../../config/properties.js';
import { secretRefId } from '../../config/property-secrets.js';

export interface ConfigureInboundOptions extends AccountFlags {
  protocol?: InboundProtocol;
  graphUrl?: string;
  mailbox?: string;
  auth?: 'password' | 'oauth2';
  folder?: string;
  createRecords?: boolean;
  unknownSender?: UnknownSenderPolicy;
  guest?: string;
  notes?: NotesContent;
  after?: AfterProcessing;
  moveTo?: string;
  /** Create the --move-to folder on the server when it does not exist (scripts; the wizard asks). */
  createFolder?: boolean;
}

type Step = 'server' | 'account' | 'options' | 'finish';

/**
 * `mailctl configure inbound [TABLE]`: the source guide's wizard, Table → Server → Account →
 * Options → Finish. Leaving Server checks the server; leaving Account checks the login and
 * folder. Every answer is also a flag.
 */
export async function runConfigureInbound(deps: Deps, tableArg: string | undefined, options: ConfigureInboundOptions): Promise<number> {
  const { out } = deps;
  const timeoutMs = parseDuration(options.timeout);
  if (timeoutMs === undefined || timeoutMs < 1000) throw new UsageError('E_TIMEOUT', `--timeout "${options.timeout}" is not a duration of at least 1s.`);
  const db = await deps.db();
  const tables = new TablesRepo(db, deps.clock);
  const configStore = await deps.config();
  const { store } = await deps.secrets();
  const stdinSecret = options.secretStdin ? (await deps.readStdin()).replace(/\r?\n$/, '') : undefined;
  if (options.secretStdin && !stdinSecret) throw new UsageError('E_SECRET_EMPTY', '--secret-stdin was given but standard input was empty.');

  // Step 1: Table
  out.line(out.color.bold('Step 1 of 5: Table'));
  const table = await chooseTable(deps, tables, tableArg);
  const existing = configStore.read().inbound?.[table];
  if (existing) out.line(`  Editing the existing ${existing.protocol.toUpperCase()} account of ${table}.`);
  if (existing && !existing.enabled) out.warn(`The account of ${table} is disabled; saving it enables it again (mailctl inbound disable ${table} stops it).`);

  const draft: Draft = fromExisting(table, existing);
  let secret: string | undefined = stdinSecret;
  let flags: ConfigureInboundOptions | undefined = options; // flags answer questions the first time through
  let step: Step = 'server';
  for (;;) {
    if (step === 'server') {
      out.line(out.color.bold('Step 2 of 5: Server'));
      await askServer(deps, draft, flags ?? ({} as ConfigureInboundOptions));
      if (options.verify) {
        const result = await verifyStep(deps, 'server', draft, secret, store, timeoutMs);
        if (result !== true) {
          const next = await onFailure(deps, result, ['edit-server']);
          if (next === 'edit-server') { flags = undefined; continue; }
          if (next === 'cancel') throw cancelled();
        }
      }
      step = 'account';
    } else if (step === 'account') {
      out.line(out.color.bold('Step 3 of 5: Account'));
      secret = await askAccount(deps, draft, flags ?? ({} as ConfigureInboundOptions), existing, secret);
      if (options.verify) {
        const result = await verifyStep(deps, 'account', draft, secret, store, timeoutMs);
        if (result !== true) {
          const next = await onFailure(deps, result, ['edit-account', 'edit-server']);
          if (next === 'edit-account') { flags = undefined; secret = undefined; continue; }
          if (next === 'edit-server') { flags = undefined; step = 'server'; continue; }
          if (next === 'cancel') throw cancelled();
        }
      }
      step = 'options';
    } else if (step === 'options') {
      out.line(out.color.bold('Step 4 of 5: Options'));
      await askOptions(deps, draft, flags ?? options, existing);
      if (options.verify && draft.afterProcessing === 'move') {
        const result = await checkMoveFolder(deps, draft, secret, store, timeoutMs, Boolean(options.createFolder));
        if (result !== true) {
          const next = await onFailure(deps, result, []);
          if (next === 'cancel') throw cancelled();
        }
      }
      step = 'finish';
    } else {
      out.line(out.color.bold('Step 5 of 5: Finish'));
      break;
    }
  }

  const saved = await save(deps, draft, existing, secret);
  out.success(`Saved the inbound account of ${table}: ${saved.protocol.toUpperCase()} ${saved.protocol === 'graph' ? saved.graphBaseUrl : `${saved.host}:${saved.port}`}, ${saved.auth.username}, folder ${saved.folder}.`);
  out.line(`  New records: ${saved.allowRecordCreation ? 'allowed' : 'not allowed'} · unknown senders: ${saved.unknownSender === 'guest' ? `records under ${saved.guestContact}` : saved.unknownSender} · notes: ${saved.notes} · after processing: ${saved.afterProcessing === 'move' ? `move to ${saved.moveTo}` : saved.afterProcessing}`);
  if (saved.tlsSkipVerify) out.warn('TLS certificate verification is OFF for this account, as you chose.');
  out.data({ ok: true, saved: true, table, protocol: saved.protocol });
  return ExitCode.ok;
}

interface Draft {
  table: string;
  protocol: InboundProtocol;
  host: string;
  port: number;
  security: SmtpSecurity;
  tlsSkipVerify: boolean;
  tlsCa: string | undefined;
  graphBaseUrl: string | undefined;
  mailbox: string | undefined;
  authType: 'password' | 'oauth2';
  username: string;
  oauth: { provider: OAuthProvider; tenant?: string; clientId: string; tokenUrl?: string; flow?: ConfigureInboundOptions['oauthFlow']; authorityUrl?: string };
  folder: string;
  allowRecordCreation: boolean;
  unknownSender: UnknownSenderPolicy;
  guestContact: string | undefined;
  notes: NotesContent;
  afterProcessing: AfterProcessing;
  moveTo: string | undefined;
  properties: string | undefined;
}

function fromExisting(table: string, e: InboundAccount | undefined): Draft {
  return {
    table,
    protocol: e?.protocol ?? 'imap',
    host: e?.host ?? '',
    port: e?.port ?? 993,
    security: e?.security ?? 'tls',
    tlsSkipVerify: Boolean(e?.tlsSkipVerify),
    tlsCa: e?.tlsCa,
    graphBaseUrl: e?.graphBaseUrl,
    mailbox: e?.mailbox,
    authType: e?.auth.type ?? 'password',
    username: e?.auth.username ?? '',
    oauth: e?.auth.type === 'oauth2'
      ? { provider: e.auth.provider, clientId: e.auth.clientId, ...(e.auth.tenant ? { tenant: e.auth.tenant } : {}), ...(e.auth.tokenUrl ? { tokenUrl: e.auth.tokenUrl } : {}), ...(e.auth.flow ? { flow: e.auth.flow } : {}), ...(e.auth.authorityUrl ? { authorityUrl: e.auth.authorityUrl } : {}) }
      : { provider: 'microsoft', clientId: '' },
    folder: e?.folder ?? 'INBOX',
    allowRecordCreation: e?.allowRecordCreation ?? true,
    unknownSender: e?.unknownSender ?? 'ignore',
    guestContact: e?.guestContact,
    notes: e?.notes ?? 'new-text',
    afterProcessing: e?.afterProcessing ?? 'mark-read',
    moveTo: e?.moveTo,
    properties: e?.properties,
  };
}

async function chooseTable(deps: Deps, tables: TablesRepo, tableArg: string | undefined): Promise<string> {
  const { prompt } = deps;
  const known = tables.list();
  let name = tableArg;
  if (!name) {
    if (known.length === 0 && !prompt.interactive) throw new UsageError('E_TABLE_UNKNOWN', 'There are no tables yet.', { command: 'mailctl tables add contracts' });
    name = known.length === 0
      ? await prompt.input({ message: 'Name of a new table for this account (e.g. contracts)', flag: 'TABLE' })
      : await prompt.select<string>({ message: 'Table this account feeds', flag: 'TABLE', choices: [...known.map((t) => ({ value: t.name, name: t.label === t.name ? t.name : `${t.name} (${t.label})` })), { value: '\u0000new', name: 'a new table…' }] });
    if (name === '\u0000new') name = await prompt.input({ message: 'Name of the new table', flag: 'TABLE' });
  }
  if (!tables.get(name)) {
    if (!prompt.interactive) tables.require(name); // throws with the known tables and the command
    const create = await prompt.confirm({ message: `There is no table "${name}". Create it?`, flag: 'TABLE', default: true });
    if (!create) throw cancelled();
    tables.add(name);
    deps.out.success(`Created table "${name}".`);
  }
  return name;
}

async function askServer(deps: Deps, d: Draft, o: ConfigureInboundOptions): Promise<void> {
  const { prompt } = deps;
  d.protocol = o.protocol ?? (await prompt.select<InboundProtocol>({
    message: 'Protocol', flag: '--protocol', default: d.protocol,
    choices: [
      { value: 'imap', name: 'IMAP', description: 'respects "mark as read"; folders; a full sweep every 45 minutes' },
      { value: 'pop3', name: 'POP3', description: 'INBOX only; messages told apart by UIDL' },
      { value: 'graph', name: 'Microsoft Graph', description: 'Microsoft 365 mailbox over HTTPS, OAuth 2.0' },
    ],
  }));
  if (d.protocol === 'graph') {
    d.graphBaseUrl = o.graphUrl ?? (await prompt.input({ message: 'Graph API base URL', flag: '--graph-url', default: d.graphBaseUrl ?? defaultGraphBaseUrl }));
    const problem = graphUrlProblem(d.graphBaseUrl);
    if (problem) throw new UsageError('E_GRAPH_URL', problem);
    const url = new URL(d.graphBaseUrl);
    d.host = url.hostname;
    d.port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    d.security = url.protocol === 'https:' ? 'tls' : 'none';
    d.authType = 'oauth2';
    return;
  }
  d.host = (o.host ?? (await prompt.input({ message: `${d.protocol.toUpperCase()} host`, flag: '--host', default: d.host || undefined, validate: (v) => (v.trim() ? true : 'the server\'s host name') }))).trim();
  const securityBefore = d.security;
  d.security = o.security ?? (await prompt.select<SmtpSecurity>({
    message: 'Security', flag: '--security', default: d.security,
    choices: [
      { value: 'tls', name: `TLS on connect (port ${defaultInboundPort(d.protocol, 'tls')})` },
      { value: 'starttls', name: `STARTTLS (port ${defaultInboundPort(d.protocol, 'starttls')})`, description: 'required, never skipped' },
      { value: 'none', name: 'none', description: 'no encryption: only on a trusted network' },
    ],
  }));
  // Editing an account keeps its port unless the security mode changed (it used to fall back to 143/993).
  const portDefault = d.security === securityBefore ? d.port : defaultInboundPort(d.protocol, d.security);
  const portText = o.port ?? (await prompt.input({ message: 'Port', flag: '--port', default: String(portDefault) }));
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError('E_PORT', `--port "${portText}": a port is a whole number from 1 to 65535.`);
  d.port = port;
  if (o.tlsSkipVerify !== undefined) d.tlsSkipVerify = o.tlsSkipVerify;
  if (o.tlsCa) d.tlsCa = readTextFile(o.tlsCa);
}

async function askAccount(deps: Deps, d: Draft, o: ConfigureInboundOptions, existing: InboundAccount | undefined, secret: string | undefined): Promise<string | undefined> {
  const { prompt } = deps;
  if (d.protocol !== 'graph') {
    d.authType = o.auth ?? (await prompt.select<'password' | 'oauth2'>({ message: 'Authentication', flag: '--auth', default: d.authType, choices: [{ value: 'password', name: 'user name and password' }, { value: 'oauth2', name: 'OAuth 2.0 (XOAUTH2)' }] }));
  }
  d.username = (o.username ?? (await prompt.input({ message: 'User name (usually the mailbox address)', flag: '--username', default: d.username || undefined, validate: (v) => (v.trim() ? true : 'a user name is needed') }))).trim();
  if (d.protocol === 'graph') d.mailbox = o.mailbox ?? (await prompt.input({ message: 'Mailbox address', flag: '--mailbox', default: d.mailbox ?? d.username }));
  if (d.authType === 'oauth2') {
    d.oauth.provider = o.oauthProvider ?? (d.protocol === 'graph' ? 'microsoft' : await prompt.select<OAuthProvider>({ message: 'OAuth provider', flag: '--oauth-provider', default: d.oauth.provider, choices: [{ value: 'microsoft', name: 'Microsoft' }, { value: 'google', name: 'Google' }, { value: 'generic', name: 'another provider' }] }));
    if (d.oauth.provider === 'microsoft' && !(o.authority ?? d.oauth.authorityUrl)) d.oauth.tenant = o.tenant ?? (await prompt.input({ message: 'Tenant id or domain', flag: '--tenant', default: d.oauth.tenant }));
    d.oauth.clientId = o.clientId ?? (await prompt.input({ message: 'Client (application) id', flag: '--client-id', default: d.oauth.clientId || undefined }));
    if (d.oauth.provider === 'generic') d.oauth.tokenUrl = o.tokenUrl ?? (await prompt.input({ message: 'Token URL', flag: '--token-url', default: d.oauth.tokenUrl }));
    if (o.oauthFlow) d.oauth.flow = o.oauthFlow;
    if (o.authority) {
      if (!/^https:\/\//.test(o.authority)) throw new UsageError('E_AUTHORITY', `--authority "${o.authority}" must be an https:// URL.`);
      d.oauth.authorityUrl = o.authority;
    }
  }
  const storedSecret = d.authType === 'password' ? existing?.auth.type === 'password' : existing?.auth.type === 'oauth2' && Boolean(existing.auth.clientSecret);
  if (o.propertiesFile) d.properties = readTextFile(o.propertiesFile);
  const secretInProperties = findOccurrences(d.properties ?? '', 'client_secret').length > 0;
  if (secret === undefined && (d.authType === 'password' || (!secretInProperties && (!isDelegated({ ...d.oauth, username: d.username }) || d.oauth.provider === 'google')))) {
    const what = d.authType === 'password' ? 'Password' : 'Client secret (the value, not its id)';
    if (prompt.interactive) {
      const typed = await prompt.secret({ message: storedSecret ? `${what} (Enter keeps the current one)` : what, flag: '--secret-stdin', validate: (v) => (v || storedSecret ? true : 'needed') });
      secret = typed === '' ? undefined : typed;
    } else if (!storedSecret) {
      throw new UsageError('E_NEEDS_FLAG', `${what} needs an answer, and there is no terminal to ask: pipe it in with --secret-stdin (never as an argument).`);
    }
  }
  if (d.protocol === 'pop3') d.folder = 'INBOX';
  else d.folder = o.folder ?? (await prompt.input({ message: 'Folder to read', flag: '--folder', default: d.folder || (d.protocol === 'graph' ? 'inbox' : 'INBOX') }));
  return secret;
}

async function askOptions(deps: Deps, d: Draft, o: ConfigureInboundOptions, existing: InboundAccount | undefined): Promise<void> {
  const { prompt } = deps;
  d.allowRecordCreation = o.createRecords ?? (await prompt.confirm({ message: 'May email from known contacts create new records?', flag: '--create-records / --no-create-records', default: d.allowRecordCreation }));
  d.unknownSender = o.unknownSender ?? (await prompt.select<UnknownSenderPolicy>({
    message: 'Email from unknown senders', flag: '--unknown-sender', default: d.unknownSender,
    choices: [
      { value: 'ignore', name: 'ignore it (kept as a communication, no record)' },
      { value: 'reject', name: 'reject it (the sender gets a short reply)' },
      { value: 'guest', name: 'create the record under a guest contact' },
    ],
  }));
  if (d.unknownSender === 'guest') {
    const contacts = new ContactsRepo(await deps.db(), deps.clock);
    const guests = contacts.list().filter((c) => c.isGuest);
    const guest = o.guest ?? (guests.length > 0 && prompt.interactive
      ? await prompt.select<string>({ message: 'Guest contact', flag: '--guest', default: d.guestContact, choices: guests.map((g) => ({ value: g.email, name: `${g.name} <${g.email}>` })) })
      : await prompt.input({ message: 'Guest contact address', flag: '--guest', default: d.guestContact }));
    const contact = contacts.findByEmail(guest);
    if (!contact) throw new UsageError('E_GUEST_UNKNOWN', `There is no contact ${guest}.`, { command: `mailctl contacts add ${guest} --guest --name "Email guest"` });
    if (!contact.isGuest) deps.out.warn(`${guest} is not marked as a guest account; records from strangers will be created under it anyway.`);
    d.guestContact = contact.email;
  } else {
    d.guestContact = undefined;
  }
  d.notes = o.notes ?? (await prompt.select<NotesContent>({ message: 'What goes into the additional notes', flag: '--notes', default: d.notes, choices: [{ value: 'new-text', name: 'the new text only (quoted history removed)' }, { value: 'whole-body', name: 'the whole body' }] }));
  const allowed = afterProcessingChoices(d.protocol);
  if (!allowed.includes(d.afterProcessing)) d.afterProcessing = allowed[0]!;
  const after = o.after ?? (await prompt.select<AfterProcessing>({
    message: 'After a message is processed', flag: '--after', default: d.afterProcessing,
    choices: allowed.map((value) => ({ value, name: { 'mark-read': 'mark it as read', move: 'move it to a folder', delete: 'delete it', keep: 'keep it (tracked by UIDL)' }[value] })),
  }));
  if (!allowed.includes(after)) throw new UsageError('E_AFTER', `--after ${after} is not possible with ${d.protocol.toUpperCase()}: choose ${allowed.join(' or ')}.`);
  d.afterProcessing = after;
  if (after === 'move') {
    d.moveTo = o.moveTo ?? (await prompt.input({ message: 'Move processed messages to folder', flag: '--move-to', default: d.moveTo ?? existing?.moveTo ?? 'Processed' }));
  } else {
    d.moveTo = undefined;
  }
}

function toAccount(d: Draft, passwordRef = '${secret:pending}'): InboundAccount {
  return {
    table: d.table,
    protocol: d.protocol,
    host: d.host,
    port: d.port,
    security: d.security,
    ...(d.tlsSkipVerify ? { tlsSkipVerify: true } : {}),
    ...(d.tlsCa ? { tlsCa: d.tlsCa } : {}),
    ...(d.graphBaseUrl && d.protocol === 'graph' ? { graphBaseUrl: d.graphBaseUrl } : {}),
    ...(d.mailbox && d.protocol === 'graph' ? { mailbox: d.mailbox } : {}),
    auth: d.authType === 'password' ? { type: 'password', username: d.username, password: passwordRef } : { type: 'oauth2', username: d.username, ...d.oauth },
    folder: d.folder,
    allowRecordCreation: d.allowRecordCreation,
    unknownSender: d.unknownSender,
    ...(d.guestContact ? { guestContact: d.guestContact } : {}),
    notes: d.notes,
    afterProcessing: d.afterProcessing,
    ...(d.moveTo ? { moveTo: d.moveTo } : {}),
    ...(d.properties !== undefined ? { properties: d.properties } : {}),
    enabled: true,
  };
}

/** Runs the Server or Account check on the draft and shows the result at the top. */
async function verifyStep(deps: Deps, which: 'server' | 'account', d: Draft, secret: string | undefined, store: import('../../secrets/secret-store.js').SecretStore, timeoutMs: number): Promise<true | InboundFailureReport> {
  const { out } = deps;
  const existingRef = (await deps.config()).read().inbound?.[d.table]?.auth;
  const account = toAccount(d, existingRef?.type === 'password' ? existingRef.password : '${secret:pending}');
  if (which === 'server') {
    const result = await checkServer(account, timeoutMs);
    if (result.ok) {
      const s = result.value;
      out.success(`Server ${d.host}:${d.port} is reachable${s.tls ? ` (${s.tls.protocol}${d.tlsSkipVerify ? ', certificate NOT verified' : ''})` : ' (no TLS)'}: ${s.greeting.slice(0, 80)}`);
      return true;
    }
    out.error(`Server check failed during ${result.report.phase}: ${result.report.error}`);
    showDiagnosis(out, result.report.diagnosis, result.report.serverSaid);
    return result.report;
  }
  let tokens: OAuthTokenProvider | undefined;
  if (account.auth.type === 'oauth2') {
    tokens = draftTokens(deps, d, account, existingRef, secret, store);
    const token = await acquireForWizard(deps, tokens);
    if (token === undefined) return true;
    if (typeof token !== 'string') return token as unknown as InboundFailureReport;
  }
  const source = await openSource(account, { secrets: store, timeoutMs, passwordOverride: secret, clock: deps.clock, ...(tokens ? { tokensFor: () => tokens } : {}) });
  const result = await checkMailbox(source, account);
  if (result.ok) {
    out.success(`The account is valid: folder ${result.value.folder}, ${result.value.messages} message(s)${result.value.unseen === null ? '' : `, ${result.value.unseen} unread`}.`);
    return true;
  }
  out.error(`Account check failed during ${result.report.phase}: ${result.report.error}`);
  showDiagnosis(out, result.report.diagnosis, result.report.serverSaid);
  return result.report;
}

/** The OAuth token source of the draft (tokens kept under pending/ until the account is saved). */
function draftTokens(deps: Deps, d: Draft, account: InboundAccount, existingRef: InboundAccount['auth'] | undefined, secret: string | undefined, store: import('../../secrets/secret-store.js').SecretStore): OAuthTokenProvider {
  if (account.auth.type !== 'oauth2') throw new Error('draftTokens: not an OAuth account');
  const typedInProperties = findOccurrences(d.properties ?? '', 'client_secret').map((x) => x.value).find((v) => !secretRefId(v));
  return new OAuthTokenProvider(`pending/inbound/${d.table}`, oauthSettingsOf({ ...account.auth, clientSecret: existingRef?.type === 'oauth2' ? existingRef.clientSecret : undefined }, d.properties), account.protocol, { secrets: store, clock: deps.clock, clientSecret: secret ?? typedInProperties });
}

/**
 * The Options step's check of the "move" folder: it must exist on the server, or every
 * processed message would fail to move. Missing: on a terminal, offer to create it (or name
 * another); in a script, create it with --create-folder or fail naming that flag. Graph
 * cannot be given a folder to create here (its moves take a folder id or well-known name).
 */
async function checkMoveFolder(deps: Deps, d: Draft, secret: string | undefined, store: import('../../secrets/secret-store.js').SecretStore, timeoutMs: number, createFolder: boolean): Promise<true | InboundFailureReport> {
  const { out, prompt } = deps;
  const existingRef = (await deps.config()).read().inbound?.[d.table]?.auth;
  const account = toAccount(d, existingRef?.type === 'password' ? existingRef.password : '${secret:pending}');
  let source: MailSource;
  try {
    const tokens = account.auth.type === 'oauth2' ? draftTokens(deps, d, account, existingRef, secret, store) : undefined;
    source = await openSource(account, { secrets: store, timeoutMs, passwordOverride: secret, clock: deps.clock, ...(tokens ? { tokensFor: () => tokens } : {}) });
  } catch (error) {
    // No token now (a delegated sign-in with no terminal): the folder is not checked, as the login was not.
    if (!(error instanceof OAuthFailure)) throw error;
    out.warn(`The move folder "${d.moveTo}" was not checked: no OAuth token (${error.message}).`);
    return true;
  }
  try {
    for (;;) {
      const folder = d.moveTo ?? 'Processed';
      if (!source.folderExists) return true;
      if (await source.folderExists(folder)) {
        out.success(`The move folder "${folder}" exists.`);
        return true;
      }
      if (!source.createFolder && prompt.interactive) {
        out.error(`There is no folder "${folder}" in this mailbox. Graph moves to a folder id or a well-known folder name (archive, deleteditems).`);
        d.moveTo = await prompt.input({ message: 'Move processed messages to folder', flag: '--move-to', default: 'archive' });
        continue;
      }
      if (!source.createFolder) {
        throw new UserError('E_MOVE_FOLDER_MISSING', `There is no folder "${folder}" in this mailbox: processed messages could not be moved there.`, {
          fix: 'Graph moves to a folder id or a well-known folder name (archive, deleteditems): give one that exists.',
          command: `mailctl configure inbound ${d.table} --after move --move-to archive`,
        });
      }
      const create = createFolder || (prompt.interactive && (await prompt.confirm({ message: `There is no folder "${folder}" on the server. Create it?`, flag: '--create-folder', default: true })));
      if (create) {
        await source.createFolder(folder);
        out.success(`Created the folder "${folder}" on the server.`);
        return true;
      }
      if (!prompt.interactive) {
        throw new UserError('E_MOVE_FOLDER_MISSING', `There is no folder "${folder}" on the server: processed messages could not be moved there. Nothing was saved.`, {
          fix: 'Pass --create-folder to create it, name an existing folder with --move-to, or save without the check with --no-verify.',
          command: `mailctl configure inbound ${d.table} --after move --move-to ${folder} --create-folder`,
        });
      }
      d.moveTo = await prompt.input({ message: 'Move processed messages to folder', flag: '--move-to', default: folder });
    }
  } catch (error) {
    if (!(error instanceof InboundFailure)) throw error;
    out.error(`Checking the move folder failed during ${error.phase}: ${error.message}`);
    const report = reportInboundFailure(error, accountWhere(account));
    showDiagnosis(out, report.diagnosis, report.serverSaid);
    return report;
  } finally {
    await source.close().catch(() => undefined);
  }
}

async function onFailure(deps: Deps, report: InboundFailureReport, edits: Array<'edit-server' | 'edit-account'>): Promise<'edit-server' | 'edit-account' | 'continue' | 'cancel'> {
  const { prompt, out } = deps;
  if (!prompt.interactive) {
    out.data({ ok: false, saved: false, ...report });
    out.line('Nothing was saved. Fix the settings, or pass --no-verify to save them anyway.');
    throw new UserError('E_INBOUND_VERIFY', `The ${report.phase} check failed; nothing was saved.`, { exitCode: ExitCode.failure });
  }
  return prompt.select({
    message: 'What now?',
    flag: '--no-verify',
    choices: [
      ...edits.map((e) => ({ value: e, name: e === 'edit-server' ? 'Change the server settings' : 'Change the account settings' })),
      { value: 'continue' as const, name: 'Continue anyway' },
      { value: 'cancel' as const, name: 'Cancel (nothing is saved)' },
    ],
  });
}

async function save(deps: Deps, d: Draft, existing: InboundAccount | undefined, secret: string | undefined): Promise<InboundAccount> {
  const { store } = await deps.secrets();
  const secretName = d.authType === 'password' ? `inbound/${d.table}/password` : `inbound/${d.table}/client_secret`;
  if (secret !== undefined) await store.set(secretName, secret);
  const keep = existing?.auth.type === d.authType ? (existing.auth.type === 'password' ? existing.auth.password : existing.auth.clientSecret) : undefined;
  const ref = secret !== undefined ? secretRef(secretName) : keep;
  const properties = d.properties !== undefined ? await externalizeSecrets(d.properties, `inbound/${d.table}`, store) : undefined;
  const account = toAccount({ ...d, properties }, ref ?? secretRef(secretName));
  if (account.auth.type === 'oauth2') {
    if (ref) account.auth.clientSecret = ref;
  }
  account.updatedAt = deps.clock.now().toISOString();
  if (!isEmailAddress(account.auth.username) && account.protocol === 'graph') throw new UsageError('E_USERNAME', 'A Graph account\'s user name must be the mailbox address.');
  (await deps.config()).update((config) => {
    config.inbound = { ...config.inbound, [d.table]: account };
  });
  if (account.auth.type === 'oauth2') {
    await dropTokens(store, `inbound/${d.table}`);
    await moveTokens(store, `pending/inbound/${d.table}`, `inbound/${d.table}`);
  }
  if (existing?.properties && properties !== undefined) await dropUnusedSecrets(existing.properties, properties, store);
  new AuditRepo(await deps.db(), deps.clock).record({ actor: 'cli', action: existing ? 'inbound.update' : 'inbound.create', target: d.table, details: { protocol: account.protocol, host: account.host, folder: account.folder, secretChanged: secret !== undefined } });
  return account;
}

function cancelled(): UserError {
  return new UserError('E_CANCELLED', 'Cancelled; nothing was saved.', { exitCode: ExitCode.failure });
}
