import type { Deps } from '../../deps.js';
import { ExitCode, UsageError, UserError } from '../../errors.js';
import { isEmailAddress } from '../../config/globals.js';
import { parseDuration } from '../../config/units.js';
import { dropUnusedSecrets, externalizeSecrets, secretRef, secretRefsIn } from '../../config/property-secrets.js';
import { defaultMaxConnections, defaultPort, maxConnectionsRange, maxPerMinuteRange, outboundPresets, type OAuthProvider, type OutboundAuth, type OutboundConfig, type OutboundPreset } from '../../outbound/outbound-config.js';
import { readSecretRef } from '../../outbound/resolve-outbound.js';
import { SmtpFailure } from '../../outbound/smtp-failure.js';
import { reportSmtpFailure, type SmtpFailureReport } from '../../outbound/smtp-report.js';
import { runSmtpSession, type SmtpAuth, type SmtpSecurity } from '../../outbound/smtp-session.js';
import { showDiagnosis } from '../../ui/show-diagnosis.js';
import { readTextFile } from '../../ui/read-text-file.js';
import { AuditRepo } from '../../store/audit-repo.js';
import { OAuthTokenProvider } from '../../auth/oauth-token-provider.js';
import { oauthSettingsOf } from '../../auth/token-provider-for.js';
import { dropTokens, moveTokens } from '../../auth/token-cache.js';
import { acquireForWizard } from './acquire-for-wizard.js';
import type { AccountFlags } from './account-flags.js';
import { isDelegated } from '../../auth/oauth-settings.js';
import { findOccurrences } from '../../config/properties.js';
import { secretRefId } from '../../config/property-secrets.js';

const pendingPlace = 'pending/outbound';

function existingSecretRef(existing: Partial<OutboundConfig> | undefined): string | undefined {
  return existing?.auth?.type === 'oauth2' ? existing.auth.clientSecret : undefined;
}

export interface ConfigureServerOptions extends AccountFlags {
  preset?: OutboundPreset;
  auth?: OutboundAuth['type'];
  scope?: string;
  from?: string;
  /** Connections at once (a whole number). */
  maxConnections?: string;
  /** Messages per minute at most, or "off" (or 0) for no limit. */
  maxPerMinute?: string;
}

/** The settings being edited, secrets still in clear (only in memory). */
interface Draft {
  host: string;
  port: number;
  security: SmtpSecurity;
  tlsSkipVerify: boolean;
  tlsCa: string | undefined;
  authType: OutboundAuth['type'];
  username: string;
  /** New secret typed this run; undefined keeps the stored one. */
  secret: string | undefined;
  oauth: { provider: OAuthProvider; tenant?: string; clientId: string; tokenUrl?: string; scope?: string; flow?: ConfigureServerOptions['oauthFlow']; authorityUrl?: string };
  from: string;
  properties: string | undefined;
  maxConnections: number | undefined;
  maxPerMinute: number | undefined;
}

const securityChoices = [
  { value: 'starttls' as const, name: 'STARTTLS (port 587)', description: 'plain connection upgraded to TLS; required, never skipped' },
  { value: 'tls' as const, name: 'TLS on connect (port 465)', description: 'TLS from the first byte' },
  { value: 'none' as const, name: 'none (port 25)', description: 'no encryption: only for a relay on a trusted network' },
];

/** `mailctl configure server`: the outbound server, verified before it is saved. */
export async function runConfigureServer(deps: Deps, options: ConfigureServerOptions): Promise<number> {
  const { out, prompt } = deps;
  const timeoutMs = parseDuration(options.timeout);
  if (timeoutMs === undefined || timeoutMs < 1000) throw new UsageError('E_TIMEOUT', `--timeout "${options.timeout}" is not a duration of at least 1s.`);
  if (options.tlsCa && options.tlsSkipVerify) throw new UsageError('E_TLS_FLAGS', '--tls-ca and --tls-skip-verify contradict each other: trust a CA, or skip verification, not both.');
  parsePacing(options); // a bad number fails before any question
  const configStore = await deps.config();
  const existing = configStore.read().outbound as Partial<OutboundConfig> | undefined;
  const stdinSecret = options.secretStdin ? (await deps.readStdin()).replace(/\r?\n$/, '') : undefined;
  if (options.secretStdin && !stdinSecret) throw new UsageError('E_SECRET_EMPTY', '--secret-stdin was given but standard input was empty.');

  let draft = await collect(deps, options, existing, stdinSecret);
  for (;;) {
    if (!options.verify) {
      out.warn('Not verified (--no-verify): saving without connecting to the server.');
      break;
    }
    const verdict = await verify(deps, draft, existing, timeoutMs);
    if (verdict === true) break;
    if (!prompt.interactive) {
      out.data({ ok: false, saved: false, ...verdict });
      out.line('Nothing was saved. Fix the settings, or pass --no-verify to save them anyway.');
      return verdict.exitCode;
    }
    const certProblem = verdict.phase === 'tls' && verdict.diagnosis.id.startsWith('tls-') && !draft.tlsSkipVerify;
    const next = await prompt.select({
      message: 'What now?',
      flag: '--no-verify',
      choices: [
        { value: 'edit', name: 'Change the settings' },
        ...(certProblem ? [{ value: 'trust' as const, name: 'Accept this server\'s certificate (turns off TLS verification for this server only)' }] : []),
        { value: 'save', name: 'Save anyway' },
        { value: 'cancel', name: 'Cancel (nothing is saved)' },
      ] as Array<{ value: 'edit' | 'trust' | 'save' | 'cancel'; name: string }>,
    });
    if (next === 'cancel') throw new UserError('E_CANCELLED', 'Cancelled; nothing was saved.', { exitCode: ExitCode.failure });
    if (next === 'save') break;
    if (next === 'trust') draft = { ...draft, tlsSkipVerify: true };
    else draft = await collect(deps, {} as ConfigureServerOptions, toConfig(draft, existing), undefined, true);
  }

  const saved = await save(deps, draft, existing);
  out.success(`Saved the outbound server ${saved.host}:${saved.port} (${saved.security}, auth ${saved.auth.type}, from ${saved.from}; ${pacingText(saved)}).`);
  if (saved.tlsSkipVerify) out.warn('TLS certificate verification is OFF for this server, as you chose.');
  out.line('  Send a test message with: mailctl test-send --to you@example.com');
  out.data({ ok: true, saved: true, outbound: publicView(saved) });
  return ExitCode.ok;
}

async function collect(deps: Deps, options: ConfigureServerOptions, existing: Partial<OutboundConfig> | undefined, stdinSecret: string | undefined, editing = false): Promise<Draft> {
  const { prompt } = deps;
  const preset = options.preset ? outboundPresets[options.preset] : undefined;
  let presetChoice = preset;
  if (!preset && !options.host && !existing?.host && prompt.interactive && !editing) {
    const picked = await prompt.select<OutboundPreset | 'other'>({
      message: 'Mail provider',
      flag: '--preset',
      choices: [
        { value: 'microsoft365', name: 'Microsoft 365 (smtp.office365.com)' },
        { value: 'gmail', name: 'Gmail / Google Workspace (smtp.gmail.com)' },
        { value: 'other', name: 'Another SMTP server' },
      ],
    });
    presetChoice = picked === 'other' ? undefined : outboundPresets[picked];
  }

  const host = options.host ?? (await prompt.input({ message: 'SMTP host', flag: '--host', default: presetChoice?.host ?? existing?.host, validate: (v) => (v.trim() ? true : 'the host name of the SMTP server') })).trim();
  const security = options.security ?? (preset && !editing ? preset.security : undefined) ??
    (await prompt.select<SmtpSecurity>({ message: 'Security', flag: '--security', default: presetChoice?.security ?? existing?.security ?? 'starttls', choices: securityChoices }));
  const portText = options.port ?? (preset && !editing ? String(preset.port) : undefined) ??
    (await prompt.input({ message: 'Port', flag: '--port', default: String(existing?.host === host && existing?.security === security && existing.port ? existing.port : defaultPort(security)), validate: validPort }));
  const portCheck = validPort(portText);
  if (portCheck !== true) throw new UsageError('E_PORT', `--port "${portText}": ${portCheck}.`);

  const authType = options.auth ?? (await prompt.select<OutboundAuth['type']>({
    message: 'Authentication',
    flag: '--auth',
    default: existing?.auth?.type ?? (presetChoice === outboundPresets.microsoft365 ? 'oauth2' : 'password'),
    choices: [
      { value: 'password', name: 'user name and password' },
      { value: 'oauth2', name: 'OAuth 2.0 (Microsoft, Google or another provider)' },
      { value: 'none', name: 'none (the server relays for this host)' },
    ],
  }));
  const existingAuth = existing?.auth;
  const existingUser = existingAuth && existingAuth.type !== 'none' ? existingAuth.username : undefined;
  const username = authType === 'none' ? '' : (options.username ?? (await prompt.input({ message: 'User name (usually the mailbox address)', flag: '--username', default: existingUser, validate: (v) => (v.trim() ? true : 'a user name is needed') }))).trim();

  let oauth: Draft['oauth'] = { provider: 'microsoft', clientId: '' };
  const oldOAuth = existingAuth?.type === 'oauth2' ? existingAuth : undefined;
  if (authType === 'oauth2') {
    const provider = options.oauthProvider ?? (await prompt.select<OAuthProvider>({
      message: 'OAuth provider', flag: '--oauth-provider', default: oldOAuth?.provider ?? (presetChoice === outboundPresets.gmail ? 'google' : 'microsoft'),
      choices: [{ value: 'microsoft', name: 'Microsoft (Entra ID)' }, { value: 'google', name: 'Google' }, { value: 'generic', name: 'another OAuth 2.0 token endpoint' }],
    }));
    // With an explicit authority (sovereign cloud, test server) the tenant is part of it.
    const tenant = provider === 'microsoft' && !(options.authority ?? oldOAuth?.authorityUrl) ? (options.tenant ?? (await prompt.input({ message: 'Tenant (directory) id or domain', flag: '--tenant', default: oldOAuth?.tenant }))) : options.tenant;
    const clientId = options.clientId ?? (await prompt.input({ message: 'Client (application) id', flag: '--client-id', default: oldOAuth?.clientId, validate: (v) => (v.trim() ? true : 'the app registration\'s client id') }));
    const tokenUrl = provider === 'generic' ? (options.tokenUrl ?? (await prompt.input({ message: 'Token URL', flag: '--token-url', default: oldOAuth?.tokenUrl }))) : options.tokenUrl;
    const scope = options.scope ?? oldOAuth?.scope;
    const authorityUrl = options.authority ?? oldOAuth?.authorityUrl;
    if (authorityUrl && !/^https:\/\//.test(authorityUrl)) throw new UsageError('E_AUTHORITY', `--authority "${authorityUrl}" must be an https:// URL.`);
    oauth = {
      ...(authorityUrl ? { authorityUrl } : {}), provider, clientId: clientId.trim(), ...(tenant ? { tenant: tenant.trim() } : {}), ...(tokenUrl ? { tokenUrl } : {}), ...(scope ? { scope } : {}), ...(options.oauthFlow ?? oldOAuth?.flow ? { flow: options.oauthFlow ?? oldOAuth?.flow } : {}) };
  }

  // The secret: stdin, else a hidden prompt (Enter keeps the stored one), else the stored one.
  const hasStored = (authType === 'password' && existingAuth?.type === 'password') || (authType === 'oauth2' && Boolean(oldOAuth?.clientSecret));
  let secret = stdinSecret;
  let properties = options.propertiesFile ? readTextFile(options.propertiesFile) : undefined;
  // Delegated sign-in uses a public client (no secret), except Google's desktop apps, which have one.
  // A client_secret in the custom properties serves OAuth too (Microsoft-style configurations).
  const secretInProperties = findOccurrences(properties ?? existing?.properties ?? '', 'client_secret').length > 0;
  const needsSecret = authType === 'password' || (authType === 'oauth2' && !secretInProperties && (!isDelegated({ ...oauth, username }) || oauth.provider === 'google'));
  if (secret === undefined && needsSecret) {
    const what = authType === 'password' ? 'Password' : 'Client secret (the secret\'s value, not its id)';
    if (prompt.interactive) {
      const typed = await prompt.secret({ message: hasStored ? `${what} (Enter keeps the current one)` : what, flag: '--secret-stdin', validate: (v) => (v || hasStored ? true : 'needed') });
      secret = typed === '' ? undefined : typed;
    } else if (!hasStored) {
      throw new UsageError('E_NEEDS_FLAG', `${what} needs an answer, and there is no terminal to ask: pipe it in with --secret-stdin (never as an argument).`);
    }
  }

  const from = (options.from ?? (await prompt.input({ message: 'From-address for all outbound mail', flag: '--from', default: existing?.from ?? (username.includes('@') ? username : undefined), validate: (v) => (isEmailAddress(v.trim()) ? true : 'a plain address such as records@acme.test') }))).trim();
  if (!isEmailAddress(from)) throw new UsageError('E_FROM_INVALID', `--from "${from}" is not a valid email address.`);

  if (properties === undefined && prompt.interactive && !editing) {
    const edit = await prompt.confirm({ message: 'Edit the custom configuration properties?', flag: '--properties-file', default: false });
    if (edit) properties = await prompt.editText({ message: 'Custom configuration properties', flag: '--properties-file', default: existing?.properties ?? '' });
  }

  const pacing = parsePacing(options);
  return {
    maxConnections: pacing.maxConnections !== undefined ? pacing.maxConnections : existing?.maxConnections,
    maxPerMinute: pacing.maxPerMinute !== undefined ? (pacing.maxPerMinute || undefined) : existing?.maxPerMinute,
    host,
    port: Number(portText),
    security,
    tlsSkipVerify: options.tlsSkipVerify ?? (existing?.host === host ? Boolean(existing?.tlsSkipVerify) : false),
    tlsCa: options.tlsCa ? readTextFile(options.tlsCa) : existing?.host === host ? existing?.tlsCa : undefined,
    authType,
    username,
    secret,
    oauth,
    from,
    properties,
  };
}

function validPort(text: string): string | true {
  const n = Number(text);
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? true : 'a port is a whole number from 1 to 65535';
}

/** Connect and log in (no message); shows the result at the top, as the source guide's wizard does. */
async function verify(deps: Deps, draft: Draft, existing: Partial<OutboundConfig> | undefined, timeoutMs: number): Promise<true | SmtpFailureReport> {
  const { out } = deps;
  const { store } = await deps.secrets();
  let auth: SmtpAuth = { type: 'none' };
  let quitAfter: 'tls' | 'auth' = 'auth';
  if (draft.authType === 'password') {
    const pass = draft.secret ?? (await readSecretRef(existing?.auth?.type === 'password' ? existing.auth.password : undefined, store, 'outbound password'));
    auth = { type: 'password', user: draft.username, pass };
  } else if (draft.authType === 'oauth2') {
    const typedInProperties = findOccurrences(draft.properties ?? '', 'client_secret').map((o) => o.value).find((v) => !secretRefId(v));
    const provider = new OAuthTokenProvider(pendingPlace, oauthSettingsOf({ ...draft.oauth, username: draft.username, clientSecret: existingSecretRef(existing) }, existing?.properties), 'smtp', { secrets: store, clock: deps.clock, clientSecret: draft.secret ?? typedInProperties });
    const token = await acquireForWizard(deps, provider);
    if (token === undefined) quitAfter = 'tls';
    else if (typeof token !== 'string') return token;
    else auth = { type: 'xoauth2', user: draft.username, accessToken: token };
  }
  try {
    const result = await runSmtpSession(
      { host: draft.host, port: draft.port, security: draft.security, tlsSkipVerify: draft.tlsSkipVerify, ...(draft.tlsCa ? { tlsCa: draft.tlsCa } : {}), auth, timeoutMs },
      { quitAfter },
    );
    const tls = result.tls ? `${result.tls.protocol}${draft.tlsSkipVerify ? ', certificate not verified' : ''}` : 'no TLS';
    if (quitAfter === 'auth' && draft.authType !== 'none') out.success(`Connected to ${draft.host}:${draft.port} (${tls}) and logged in as ${draft.username}${auth.type === 'xoauth2' ? ' with an OAuth token (XOAUTH2)' : ''}.`);
    else out.success(`Connected to ${draft.host}:${draft.port} (${tls}).${draft.authType === 'oauth2' ? ' The OAuth login is checked after a person signs in (mailctl reset-oauth outbound).' : ''}`);
    return true;
  } catch (error) {
    if (!(error instanceof SmtpFailure)) throw error;
    const report = reportSmtpFailure(error, { host: draft.host, port: draft.port, auth });
    out.error(`Verification failed while ${report.phaseLabel} (phase ${report.phase}).`);
    showDiagnosis(out, report.diagnosis, report.serverSaid ?? report.error);
    return report;
  }
}

/** The draft as a stored config, secrets not yet moved (used as defaults when editing again). */
function toConfig(draft: Draft, existing: Partial<OutboundConfig> | undefined): Partial<OutboundConfig> {
  return { ...existing, maxConnections: draft.maxConnections, maxPerMinute: draft.maxPerMinute, host: draft.host, port: draft.port, security: draft.security, from: draft.from, tlsSkipVerify: draft.tlsSkipVerify, auth: (draft.authType === 'oauth2' ? { type: 'oauth2', username: draft.username, ...draft.oauth } : draft.authType === 'password' ? { type: 'password', username: draft.username, password: existing?.auth?.type === 'password' ? existing.auth.password : '' } : { type: 'none' }) as OutboundAuth };
}

async function save(deps: Deps, draft: Draft, existing: Partial<OutboundConfig> | undefined): Promise<OutboundConfig> {
  const { store } = await deps.secrets();
  const configStore = await deps.config();
  const oldAuth = existing?.auth;
  let auth: OutboundAuth;
  if (draft.authType === 'password') {
    const ref = draft.secret !== undefined ? secretRef('outbound/password') : oldAuth?.type === 'password' ? oldAuth.password : secretRef('outbound/password');
    if (draft.secret !== undefined) await store.set('outbound/password', draft.secret);
    auth = { type: 'password', username: draft.username, password: ref };
  } else if (draft.authType === 'oauth2') {
    const oldRef = oldAuth?.type === 'oauth2' ? oldAuth.clientSecret : undefined;
    if (draft.secret !== undefined) await store.set('outbound/client_secret', draft.secret);
    const clientSecret = draft.secret !== undefined ? secretRef('outbound/client_secret') : oldRef;
    auth = { type: 'oauth2', username: draft.username, ...draft.oauth, ...(clientSecret ? { clientSecret } : {}) };
  } else {
    auth = { type: 'none' };
  }
  const properties = draft.properties !== undefined ? await externalizeSecrets(draft.properties, 'outbound', store) : existing?.properties;
  const saved: OutboundConfig = {
    host: draft.host,
    port: draft.port,
    security: draft.security,
    ...(draft.tlsSkipVerify ? { tlsSkipVerify: true } : {}),
    ...(draft.tlsCa ? { tlsCa: draft.tlsCa } : {}),
    auth,
    from: draft.from,
    ...(properties !== undefined ? { properties } : {}),
    ...(draft.maxConnections !== undefined ? { maxConnections: draft.maxConnections } : {}),
    ...(draft.maxPerMinute !== undefined ? { maxPerMinute: draft.maxPerMinute } : {}),
    updatedAt: deps.clock.now().toISOString(),
  };
  configStore.update((config) => {
    config.outbound = saved;
  });
  // Tokens got while checking belong to the saved settings; older ones do not.
  if (auth.type === 'oauth2') {
    await dropTokens(store, 'outbound');
    await moveTokens(store, pendingPlace, 'outbound');
  }
  if (existing?.properties !== undefined && properties !== undefined) await dropUnusedSecrets(existing.properties, properties, store);
  if (oldAuth?.type === 'password' && auth.type !== 'password') await store.delete('outbound/password');
  new AuditRepo(await deps.db(), deps.clock).record({
    actor: 'cli',
    action: 'outbound.configure',
    target: `${saved.host}:${saved.port}`,
    details: { security: saved.security, auth: saved.auth.type, maxConnections: saved.maxConnections ?? defaultMaxConnections, maxPerMinute: saved.maxPerMinute ?? null, from: saved.from, tlsSkipVerify: Boolean(saved.tlsSkipVerify), secretChanged: draft.secret !== undefined, propertySecrets: properties ? secretRefsIn(properties).length : 0 },
  });
  return saved;
}

/** The saved server without secret references, for --json. */
function publicView(saved: OutboundConfig) {
  const { auth, properties, tlsCa, ...rest } = saved;
  const publicAuth = auth.type === 'password' ? { type: auth.type, username: auth.username } : auth.type === 'oauth2' ? { type: auth.type, provider: auth.provider, username: auth.username, tenant: auth.tenant, clientId: auth.clientId } : auth;
  return { ...rest, maxConnections: saved.maxConnections ?? defaultMaxConnections, maxPerMinute: saved.maxPerMinute ?? null, auth: publicAuth, tlsCa: Boolean(tlsCa), propertiesLines: properties ? properties.split(/\r\n|\n|\r/).length : 0 };
}

/**
 * --max-connections and --max-per-minute as numbers (undefined: not given, keep the stored
 * value; maxPerMinute 0: "off", no limit).
 */
function parsePacing(options: ConfigureServerOptions): { maxConnections?: number; maxPerMinute?: number } {
  const out: { maxConnections?: number; maxPerMinute?: number } = {};
  if (options.maxConnections !== undefined) {
    const n = Number(options.maxConnections);
    if (!Number.isInteger(n) || n < maxConnectionsRange.min || n > maxConnectionsRange.max) {
      throw new UsageError('E_MAX_CONNECTIONS', `--max-connections "${options.maxConnections}" is not a whole number from ${maxConnectionsRange.min} to ${maxConnectionsRange.max}.`, { fix: `Microsoft 365 allows ${defaultMaxConnections} per mailbox (the default); a relay of your own may take more.` });
    }
    out.maxConnections = n;
  }
  if (options.maxPerMinute !== undefined) {
    const text = options.maxPerMinute.trim().toLowerCase();
    const n = text === 'off' ? 0 : Number(text);
    if (!Number.isInteger(n) || n < 0 || n > maxPerMinuteRange.max) {
      throw new UsageError('E_MAX_PER_MINUTE', `--max-per-minute "${options.maxPerMinute}" is not a whole number from ${maxPerMinuteRange.min} to ${maxPerMinuteRange.max}, or "off".`, { fix: 'Microsoft 365 accepts 30 messages a minute per mailbox (SMTP AUTH); "off" removes the limit.' });
    }
    out.maxPerMinute = n;
  }
  return out;
}

/** "3 connections at most, 30 messages a minute at most" (the defaults filled in). */
export function pacingText(outbound: Pick<OutboundConfig, 'maxConnections' | 'maxPerMinute'>): string {
  const connections = outbound.maxConnections ?? defaultMaxConnections;
  return `${connections} connection${connections === 1 ? '' : 's'} at most${outbound.maxPerMinute ? `, ${outbound.maxPerMinute} messages a minute at most` : ', no per-minute limit'}`;
}
