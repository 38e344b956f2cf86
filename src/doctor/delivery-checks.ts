import { OAuthFailure } from '../auth/oauth-failure.js';
import { outboundTokenProvider } from '../auth/token-provider-for.js';
import { daemonLiveness } from '../daemon/daemon-liveness.js';
import { localProcessProbe } from '../daemon/process-identity.js';
import { diagnose } from '../diagnosis/diagnose.js';
import { isUserError } from '../errors.js';
import { checkAccount } from '../inbound/check-account.js';
import { requireOutbound, smtpTargetFor } from '../outbound/resolve-outbound.js';
import { SmtpFailure } from '../outbound/smtp-failure.js';
import { reportSmtpFailure } from '../outbound/smtp-report.js';
import { runSmtpSession } from '../outbound/smtp-session.js';
import { DaemonStateRepo } from '../store/daemon-state-repo.js';
import { SyncRepo } from '../store/sync-repo.js';
import type { DoctorCheck } from './finding.js';

/** A deferred message older than this means mail is stuck, not just retrying once. */
const stuckAfterMs = 60 * 60_000;

/** The source guide's "No emails are received": the kill switch, the daemon, and every server. */
export const deliveryChecks: DoctorCheck[] = [
  {
    id: 'config.email-enabled',
    symptom: 'not-moving',
    areas: ['config', 'outbound', 'inbound', 'queue'],
    network: false,
    run({ globals }, report) {
      if (globals.email_enabled) {
        report.passed({ check: this.id, symptom: this.symptom, summary: 'email_enabled is true' });
        return;
      }
      report.finding({
        check: this.id, symptom: this.symptom, severity: 'error',
        title: 'Email is switched off (email_enabled is false)',
        seen: 'email_enabled = false',
        cause: 'The kill switch is off: the daemon polls no mailbox and sends nothing; mail waits in the queue.',
        fix: 'Switch email back on once the reason it was switched off is gone.',
        command: 'mailctl config set email_enabled true',
      });
    },
  },
  {
    id: 'daemon.heartbeat',
    symptom: 'not-moving',
    areas: ['inbound', 'outbound', 'queue'],
    network: false,
    run({ config, globals, db, clock, paths }, report) {
      const kb = config.kb;
      if (!kb) return;
      const beat = new DaemonStateRepo(db).get(kb.name);
      const live = daemonLiveness(beat, clock.now(), globals.inbound_check_frequency, localProcessProbe(paths.dataDir));
      if (live.running) {
        report.passed({ check: this.id, symptom: this.symptom, summary: `daemon ${live.summary}` });
        if (beat?.configError) {
          report.finding({
            check: this.id, symptom: this.symptom, severity: 'warning',
            title: 'The daemon runs on the previous configuration: the config file it last read is broken',
            seen: `${beat.configErrorAt}: ${beat.configError}`,
            cause: 'The config file was changed by hand and does not read; the daemon kept the configuration it had, so the change is not in effect.',
            fix: 'Correct the file (mailctl config … rewrites it whole); the daemon takes it once it reads well.',
            command: 'mailctl doctor --only config',
          });
        }
        return;
      }
      const b = beat!;
      const titles = {
        never: 'The daemon has never run for this KB',
        stopped: `The daemon was stopped at ${b?.stoppedAt}`,
        crashed: `The daemon crashed: pid ${b?.pid} is gone without a clean stop; its last heartbeat was ${b?.heartbeatAt}`,
        down: b?.mode === 'once' ? `\`daemon --once\` has not run recently: its last run ended ${b?.stoppedAt ?? `(unfinished) after starting ${b?.startedAt}`}` : `The daemon is not running: its last heartbeat was ${b?.heartbeatAt}`,
      } as const;
      const state = live.state as keyof typeof titles;
      report.finding({
        check: this.id, symptom: this.symptom, severity: 'error',
        title: titles[state],
        seen: state === 'never' ? 'no heartbeat recorded' : `daemon ${live.summary}`,
        cause: 'Without the daemon no mailbox is polled and the queue is not sent: mail waits.',
        fix: state === 'never' ? 'Start the daemon (as a systemd service, see the README).'
          : b.mode === 'once' ? 'Look at the cron job that runs `mailctl daemon --once` (is it installed, does it run, its output).'
          : state === 'crashed' ? 'Start it again and look at its log for why it died (killed by the OOM killer? journalctl -u mailctl, dmesg).'
          : 'Start it again and look at its log for why it stopped (systemctl status mailctl, journalctl -u mailctl).',
        command: b?.mode === 'once' ? 'mailctl daemon --once' : 'mailctl daemon',
      });
    },
  },
  {
    id: 'outbound.configured',
    symptom: 'not-moving',
    areas: ['outbound'],
    network: false,
    run({ config }, report) {
      if (config.outbound?.host) return; // the login check says how it is
      report.finding({
        check: this.id, symptom: this.symptom, severity: 'error',
        title: 'No outbound server is configured',
        seen: 'config.json has no outbound server',
        cause: 'Nothing can be sent.',
        fix: 'Configure the outbound server, then send a test message.',
        command: 'mailctl configure server',
      });
    },
  },
  {
    id: 'outbound.login',
    symptom: 'not-moving',
    areas: ['outbound'],
    network: true,
    async run(ctx, report) {
      const { config, secrets, clock, timeoutMs } = ctx;
      if (!config.outbound?.host) return; // outbound.configured says so
      const outbound = requireOutbound(config);
      const where = `${outbound.host}:${outbound.port}`;
      try {
        const tokens = outboundTokenProvider(outbound, { secrets: secrets.store, clock });
        const target = await smtpTargetFor(outbound, secrets.store, timeoutMs, tokens);
        const result = await runSmtpSession(target, { quitAfter: 'auth' });
        ctx.serverMaxSize = result.serverMaxSize;
        const tls = result.tls ? result.tls.protocol + (outbound.tlsSkipVerify ? ', certificate NOT verified' : '') : 'no TLS';
        report.passed({ check: this.id, symptom: this.symptom, summary: `outbound ${where} (${tls}): connected${outbound.auth.type === 'none' ? '' : ` and logged in as ${outbound.auth.username}`}` });
      } catch (error) {
        if (error instanceof SmtpFailure) {
          const r = reportSmtpFailure(error, { host: outbound.host, port: outbound.port, auth: outbound.auth });
          report.finding({
            check: this.id, symptom: this.symptom, severity: 'error',
            title: `The outbound server ${where} failed while ${r.phaseLabel}`,
            seen: r.serverSaid ?? r.error,
            cause: r.diagnosis.cause, fix: r.diagnosis.fix, command: r.diagnosis.command ?? 'mailctl test-send --to you@example.com --transcript',
          });
        } else if (error instanceof OAuthFailure) {
          const d = diagnose({ area: 'oauth', text: error.message, kind: error.error });
          report.finding({
            check: this.id, symptom: this.symptom, severity: 'error',
            title: `No OAuth token for the outbound server ${where}`,
            seen: error.message,
            cause: d.cause, fix: d.fix, command: d.command ?? 'mailctl reset-oauth outbound',
          });
        } else if (isUserError(error)) {
          report.finding({
            check: this.id, symptom: this.symptom, severity: 'error',
            title: `The outbound server ${where} cannot be used`,
            seen: error.message,
            cause: 'Something the login needs is missing.',
            fix: error.fix ?? 'Configure the server again.',
            command: error.command ?? 'mailctl configure server',
          });
        } else throw error;
      }
    },
  },
  {
    id: 'inbound.accounts',
    symptom: 'not-moving',
    areas: ['inbound'],
    network: true,
    async run({ config, secrets, clock, timeoutMs }, report) {
      const accounts = Object.values(config.inbound ?? {});
      if (accounts.length === 0) {
        report.passed({ check: this.id, symptom: this.symptom, summary: 'no inbound accounts (nothing is received by email)' });
        return;
      }
      for (const account of accounts) {
        const where = account.protocol === 'graph' ? `Graph ${account.mailbox ?? account.auth.username}` : `${account.protocol.toUpperCase()} ${account.host}:${account.port}`;
        if (!account.enabled) {
          report.finding({
            check: this.id, symptom: this.symptom, severity: 'warning',
            title: `The inbound account of ${account.table} is disabled`,
            seen: `inbound.${account.table}.enabled = false`,
            cause: 'Mail sent to this mailbox is not read.',
            fix: 'Enable it in the wizard (Options) once it should be polled again.',
            command: `mailctl configure inbound ${account.table}`,
          });
          continue;
        }
        let result: Awaited<ReturnType<typeof checkAccount>>;
        try {
          result = await checkAccount(account, { secrets: secrets.store, timeoutMs, clock });
        } catch (error) {
          if (!isUserError(error)) throw error;
          report.finding({
            check: this.id, symptom: this.symptom, severity: 'error',
            title: `The inbound account of ${account.table} cannot be used`,
            seen: error.message, cause: 'Something the login needs is missing.',
            fix: error.fix ?? 'Configure the account again.', command: error.command ?? `mailctl configure inbound ${account.table}`,
          });
          continue;
        }
        const failed = !result.server.ok ? { step: 'server', report: result.server.report } : result.account && !result.account.ok ? { step: 'account', report: result.account.report } : undefined;
        if (!failed) {
          const a = result.account?.ok ? result.account.value : undefined;
          report.passed({ check: this.id, symptom: this.symptom, summary: `inbound ${account.table} (${where}): server reachable, account valid${a ? `, ${a.messages} message(s) in ${a.folder}` : ''}` });
          continue;
        }
        const r = failed.report;
        report.finding({
          check: this.id, symptom: this.symptom, severity: 'error',
          title: `The inbound account of ${account.table} (${where}) failed its ${failed.step} check during ${r.phase}`,
          seen: r.serverSaid ?? r.error,
          cause: r.diagnosis.cause, fix: r.diagnosis.fix, command: r.diagnosis.command ?? `mailctl test-inbound ${account.table}`,
        });
      }
    },
  },
  {
    id: 'inbound.last-poll',
    symptom: 'not-moving',
    areas: ['inbound'],
    network: false,
    run({ config, db }, report) {
      const sync = new SyncRepo(db);
      for (const account of Object.values(config.inbound ?? {})) {
        const s = sync.get(account.table);
        if (!s.lastError) {
          if (s.lastOkAt) report.passed({ check: this.id, symptom: this.symptom, summary: `inbound ${account.table}: last poll ${s.lastOkAt} succeeded` });
          continue;
        }
        const d = diagnose({ area: account.protocol, text: s.lastError, authMethod: account.auth.type, host: account.host, port: account.port });
        report.finding({
          check: this.id, symptom: this.symptom, severity: 'error',
          title: `The last poll of ${account.table} failed (${s.failures} time(s) in a row${s.lastOkAt ? `, last success ${s.lastOkAt}` : ', never succeeded'})`,
          seen: `${s.lastPollAt}: ${s.lastError.slice(0, 300)}; next try ${s.nextPollAt}`,
          cause: d.cause, fix: d.fix, command: d.command ?? `mailctl test-inbound ${account.table}`,
        });
      }
    },
  },
  {
    id: 'queue.deferred',
    symptom: 'not-moving',
    areas: ['queue'],
    network: false,
    run({ db, clock }, report) {
      const cutoff = new Date(clock.now().getTime() - stuckAfterMs).toISOString();
      const rows = db.prepare(`SELECT id, first_failure_at AS firstFailureAt, attempts, last_error AS error FROM outbound_queue
        WHERE status = 'deferred' AND first_failure_at <= ? ORDER BY first_failure_at LIMIT 1`).all(cutoff) as Array<{ id: number; firstFailureAt: string; attempts: number; error: string | null }>;
      const total = (db.prepare(`SELECT count(*) AS n FROM outbound_queue WHERE status = 'deferred' AND first_failure_at <= ?`).get(cutoff) as { n: number }).n;
      const oldest = rows[0];
      if (!oldest) {
        report.passed({ check: this.id, symptom: this.symptom, summary: 'no message has been failing for over an hour' });
        return;
      }
      const d = diagnose({ area: 'smtp', text: oldest.error ?? '' });
      report.finding({
        check: this.id, symptom: this.symptom, severity: 'warning',
        title: `${total} message(s) have been failing for over an hour and are retried`,
        seen: `oldest #${oldest.id}: failing since ${oldest.firstFailureAt}, ${oldest.attempts} attempt(s), last: ${(oldest.error ?? '').slice(0, 200)}`,
        cause: d.cause, fix: d.fix, command: `mailctl queue show ${oldest.id}`,
      });
    },
  },
];
