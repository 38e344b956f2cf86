import { randomUUID } from 'node:crypto';
import type { Deps } from '../../deps.js';
import { ExitCode, UsageError, UserError } from '../../errors.js';
import { parseDuration } from '../../config/units.js';
import { externalizeSecrets } from '../../config/property-secrets.js';
import type { MailctlConfig } from '../../config/config-schema.js';
import { OAuthFailure } from '../../auth/oauth-failure.js';
import { dropTokens, tokenCacheKey } from '../../auth/token-cache.js';
import { outboundTokenProvider } from '../../auth/token-provider-for.js';
import { diagnose } from '../../diagnosis/diagnose.js';
import type { Diagnosis } from '../../diagnosis/diagnosis.js';
import { checkAccount } from '../../inbound/check-account.js';
import { requireOutbound, smtpTargetFor } from '../../outbound/resolve-outbound.js';
import { SmtpFailure } from '../../outbound/smtp-failure.js';
import { reportSmtpFailure } from '../../outbound/smtp-report.js';
import { runSmtpSession } from '../../outbound/smtp-session.js';
import { deleteJournal, finishJournal, recoveryNotice, rollBack, writeJournal, type RotationJournal } from '../../rotation/rotation-journal.js';
import { acquireRotationLock } from '../../rotation/rotation-lock.js';
import { looksLikeSecretId, planRotation, type RotationPlan } from '../../rotation/rotation-plan.js';
import { findSecretOccurrences, type SecretOccurrence } from '../../rotation/secret-occurrence.js';
import { AuditRepo } from '../../store/audit-repo.js';
import { maskSecret } from '../../ui/mask.js';

export interface RotateSecretOptions {
  secretStdin?: boolean;
  dryRun?: boolean;
  force?: boolean;
  keepOnFailure?: boolean;
  includeOtherApps?: boolean;
  verify: boolean;
  timeout: string;
}

interface PlaceResult {
  place: string;
  replaced: number;
  ok: boolean;
  detail: string;
  diagnosis?: Diagnosis;
}

const label = (place: string) => (place === 'outbound' ? 'outbound' : place.replace('inbound/', ''));

/**
 * `mailctl rotate-secret`: the source guide's "Replacing an Expired Client Secret", all of
 * it at once. Every client_secret is found and replaced (only the secret text), tokens are
 * renewed and each account verified; if any fails, everything goes back as it was.
 * The whole run (not --dry-run) holds rotate-secret.lock: a second rotation is refused, and no
 * other mailctl takes this one's journal for an interrupted run's.
 */
export async function runRotateSecret(deps: Deps, options: RotateSecretOptions): Promise<number> {
  const timeoutMs = parseDuration(options.timeout);
  if (timeoutMs === undefined || timeoutMs < 1000) throw new UsageError('E_TIMEOUT', `--timeout "${options.timeout}" is not a duration of at least 1s.`);
  const { store } = await deps.secrets(); // recovers a killed run first, under the lock
  if (options.dryRun) return rotate(deps, options, timeoutMs);
  // Taken before the plan is read: a plan read before another rotation's commit would roll back to values older than it.
  const lock = acquireRotationLock(deps.paths.dataDir);
  try {
    // A rotation killed between our recovery above and the lock: finish it before reading the plan.
    const leftover = await finishJournal(store);
    if (leftover) {
      deps.out.warn(recoveryNotice(leftover));
      if (leftover.action !== 'running') new AuditRepo(await deps.db(), deps.clock).record({ actor: 'recovery', action: `secret.rotate.${leftover.action}`, target: leftover.journalId, details: { secrets: leftover.secrets } });
    }
    return await rotate(deps, options, timeoutMs);
  } finally {
    lock.release();
  }
}

async function rotate(deps: Deps, options: RotateSecretOptions, timeoutMs: number): Promise<number> {
  const { out, prompt } = deps;
  const configStore = await deps.config();
  const { store } = await deps.secrets();

  let config = configStore.read();
  if (!options.dryRun) config = await externalizeLiterals(deps);
  const plan = planRotation(await findSecretOccurrences(config, store));
  if (plan.occurrences.length === 0) {
    throw new UserError('E_NO_SECRETS', 'No client_secret was found in the outbound server or any inbound account.', { command: 'mailctl configure server', exitCode: ExitCode.failure });
  }
  showPlan(deps, plan);

  let occurrences = plan.occurrences;
  for (const place of plan.otherApps) {
    const include = options.includeOtherApps ?? (prompt.interactive
      ? await prompt.confirm({ message: `${label(place)} uses another app's client id (${plan.occurrences.find((o) => o.place === place)?.clientId}). Replace its secret too?`, flag: '--include-other-apps', default: false })
      : false);
    if (!include) {
      occurrences = occurrences.filter((o) => o.place !== place);
      out.line(`  Leaving ${label(place)} alone (another app; --include-other-apps to include it).`);
    }
  }
  if (options.dryRun) {
    out.line(`Dry run: ${occurrences.length} occurrence(s) would be replaced; nothing was changed.`);
    out.data({ ok: true, dryRun: true, ...planJson(plan), toReplace: occurrences.length });
    return ExitCode.ok;
  }

  const secret = await readNewSecret(deps, options);
  if (secret === plan.currentValue) out.warn('The new secret is the same as the current one.');

  // Journal first: a kill from here on is finished or undone by the next mailctl run.
  const places = [...new Set(occurrences.map((o) => o.place))];
  const journal: RotationJournal = {
    id: `rot-${randomUUID().slice(0, 8)}`,
    startedAt: deps.clock.now().toISOString(),
    state: 'applying',
    entries: occurrences.map((o) => ({ secretId: o.secretId!, old: o.value, new: secret })),
    tokens: Object.fromEntries(await Promise.all(places.map(async (p) => [p, (await store.get(tokenCacheKey(p))) ?? null] as const))),
  };
  await writeJournal(store, journal);
  const stepDelay = deps.settings.rotateStepDelayMs ?? 0;
  for (const [i, entry] of journal.entries.entries()) {
    await store.set(entry.secretId, entry.new);
    out.line(`  replaced ${i + 1}/${journal.entries.length}`);
    if (stepDelay > 0) await new Promise((r) => setTimeout(r, stepDelay));
  }
  for (const place of places) await dropTokens(store, place);
  journal.state = 'verifying';
  await writeJournal(store, journal);

  const results: PlaceResult[] = [];
  for (const place of places) {
    const replaced = occurrences.filter((o) => o.place === place).length;
    results.push(options.verify ? { place, replaced, ...(await verifyPlace(deps, configStore.read(), place, timeoutMs)) } : { place, replaced, ok: true, detail: 'not verified (--no-verify)' });
  }
  showSummary(deps, results);
  const failed = results.filter((r) => !r.ok);

  let kept = failed.length === 0;
  if (!kept) {
    for (const f of failed) out.error(`${label(f.place)}: ${f.detail}${f.diagnosis ? ` — ${f.diagnosis.cause}` : ''}`);
    kept = options.keepOnFailure ?? (prompt.interactive
      ? await prompt.confirm({ message: 'Keep the new secret anyway? (No puts every old value and token back)', flag: '--keep-on-failure', default: false })
      : false);
  }
  const audit = new AuditRepo(await deps.db(), deps.clock);
  if (kept) {
    journal.state = 'committed';
    await writeJournal(store, journal);
    await deleteJournal(store);
    audit.record({ actor: 'cli', action: 'secret.rotate', target: journal.id, details: { places: results.map((r) => ({ place: r.place, replaced: r.replaced, verified: r.ok })), keptDespiteFailure: failed.length > 0 } });
    if (failed.length > 0) out.warn('The new secret was kept although an account failed its check, as you chose.');
    else if (options.verify) out.success(`Rotated the client secret in ${occurrences.length} place(s); every account verified.`);
    else out.success(`Rotated the client secret in ${occurrences.length} place(s); not verified (--no-verify): check with \`mailctl test-send\` and \`mailctl test-inbound\`.`);
  } else {
    await rollBack(store, journal);
    await deleteJournal(store);
    audit.record({ actor: 'cli', action: 'secret.rotate.rolled-back', target: journal.id, details: { failed: failed.map((f) => f.place) } });
    out.error(`Rolled back: every old secret and token is back, in all ${occurrences.length} place(s).`);
  }
  out.data({
    ok: failed.length === 0,
    kept,
    verified: options.verify,
    journal: journal.id,
    counts: plan.counts,
    results: results.map((r) => ({ place: r.place, replaced: r.replaced, ok: r.ok, detail: r.detail, diagnosis: r.diagnosis ?? null })),
  });
  return failed.length === 0 ? ExitCode.ok : ExitCode.failure;
}

/** A client_secret typed in clear in the config (by hand) is moved to the store first. */
async function externalizeLiterals(deps: Deps): Promise<MailctlConfig> {
  const { store } = await deps.secrets();
  const configStore = await deps.config();
  // Under the config lock, from the config as it is now: properties set meanwhile are not overwritten with older ones.
  return configStore.transaction(async () => {
    const current = configStore.read();
    const outboundProps = current.outbound?.properties;
    const inbound = Object.entries(current.inbound ?? {});
    const newOutbound = outboundProps ? await externalizeSecrets(outboundProps, 'outbound', store) : outboundProps;
    const newInbound = await Promise.all(inbound.map(async ([t, a]) => [t, a.properties ? await externalizeSecrets(a.properties, `inbound/${t}`, store) : a.properties] as const));
    if (newOutbound === outboundProps && newInbound.every(([t, p]) => p === current.inbound?.[t]?.properties)) return current;
    return configStore.update((c) => {
      if (c.outbound && newOutbound !== undefined) c.outbound.properties = newOutbound;
      for (const [t, p] of newInbound) if (c.inbound?.[t] && p !== undefined) c.inbound[t]!.properties = p;
    });
  });
}

function showPlan(deps: Deps, plan: RotationPlan): void {
  const { out } = deps;
  out.table(plan.occurrences, [
    { header: 'PLACE', value: (o: SecretOccurrence) => label(o.place) },
    { header: 'KEY', value: (o) => o.key },
    { header: 'LINE', value: (o) => (o.line === null ? '-' : String(o.line)) },
    { header: 'VALUE', value: (o) => maskSecret(o.value) },
    { header: 'NOTE', value: (o) => [o.value !== plan.currentValue ? 'DIFFERS from the others' : '', plan.otherApps.includes(o.place) ? 'another app' : ''].filter(Boolean).join('; ') },
  ]);
  out.line(`Found: ${plan.counts.map((c) => `${label(c.place)}: ${c.count}`).join(', ')}`);
  if (plan.differing.length > 0) {
    out.warn(`${plan.differing.length} occurrence(s) hold a different value than the others: an earlier rotation was probably left half done. They will be replaced too.`);
  }
}

function planJson(plan: RotationPlan) {
  return {
    counts: plan.counts,
    occurrences: plan.occurrences.map((o) => ({ place: o.place, key: o.key, line: o.line, masked: maskSecret(o.value), differs: o.value !== plan.currentValue, otherApp: plan.otherApps.includes(o.place) })),
  };
}

async function readNewSecret(deps: Deps, options: RotateSecretOptions): Promise<string> {
  const { prompt } = deps;
  const secret = options.secretStdin
    ? (await deps.readStdin()).replace(/\r?\n$/, '')
    : await prompt.secret({ message: 'New client secret (its value, not its ID)', flag: '--secret-stdin', confirm: true, validate: (v) => (v.trim() ? true : 'the secret cannot be empty') });
  if (!secret.trim()) throw new UsageError('E_SECRET_EMPTY', 'The new secret is empty; nothing was changed.');
  if (/[\r\n]/.test(secret)) throw new UsageError('E_SECRET_LINES', 'The new secret contains a line break; nothing was changed.');
  if (looksLikeSecretId(secret) && !options.force) {
    throw new UsageError('E_SECRET_IS_ID', 'That looks like the secret\'s ID (a GUID), not its value; nothing was changed.', {
      fix: 'In Entra ID → Certificates & secrets, copy the Value column (shown only when the secret is created). Pass --force if this really is the value.',
    });
  }
  return secret;
}

/** Drop-in check for one place with the new secret: a token, then the login (and folder). */
async function verifyPlace(deps: Deps, config: MailctlConfig, place: string, timeoutMs: number): Promise<Omit<PlaceResult, 'place' | 'replaced'>> {
  const { store } = await deps.secrets();
  const providerDeps = { secrets: store, clock: deps.clock };
  try {
    if (place === 'outbound') {
      const outbound = requireOutbound(config);
      const tokens = outboundTokenProvider(outbound, providerDeps);
      const target = await smtpTargetFor(outbound, store, timeoutMs, tokens);
      try {
        await runSmtpSession(target, { quitAfter: 'auth' });
        return { ok: true, detail: `${tokens ? 'new token, ' : ''}logged in to ${target.host}:${target.port}` };
      } catch (error) {
        if (!(error instanceof SmtpFailure)) throw error;
        const report = reportSmtpFailure(error, target);
        return { ok: false, detail: `login failed: ${report.serverSaid ?? report.error}`, diagnosis: report.diagnosis };
      }
    }
    const account = config.inbound?.[place.replace('inbound/', '')];
    if (!account) return { ok: false, detail: 'the account is gone' };
    const result = await checkAccount(account, { secrets: store, timeoutMs, clock: deps.clock });
    if (!result.server.ok) return { ok: false, detail: `server: ${result.server.report.error}`, diagnosis: result.server.report.diagnosis };
    if (!result.account?.ok) {
      const report = result.account && !result.account.ok ? result.account.report : undefined;
      return { ok: false, detail: `account: ${report?.error ?? 'not checked'}`, ...(report ? { diagnosis: report.diagnosis } : {}) };
    }
    return { ok: true, detail: `${account.auth.type === 'oauth2' ? 'new token, ' : ''}account is valid (${result.account.value.folder})` };
  } catch (error) {
    if (!(error instanceof OAuthFailure)) throw error;
    return { ok: false, detail: `token: ${error.message.split('\n')[0]}`, diagnosis: diagnose({ area: 'oauth', text: error.message, kind: error.error }) };
  }
}

function showSummary(deps: Deps, results: PlaceResult[]): void {
  deps.out.table(results, [
    { header: 'PLACE', value: (r) => label(r.place) },
    { header: 'REPLACED', value: (r) => String(r.replaced) },
    { header: 'CHECK', value: (r) => (r.ok ? deps.out.color.green('✓') : deps.out.color.red('✗')) },
    { header: 'DETAIL', value: (r) => r.detail.slice(0, 100) },
  ]);
}
