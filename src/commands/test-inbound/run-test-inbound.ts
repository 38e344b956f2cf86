import type { Deps } from '../../deps.js';
import { ExitCode, UsageError } from '../../errors.js';
import { parseDuration } from '../../config/units.js';
import { checkAccount } from '../../inbound/check-account.js';
import type { InboundAccount } from '../../inbound/inbound-config.js';
import { showDiagnosis } from '../../ui/show-diagnosis.js';

/** `mailctl test-inbound [TABLE]`: server and account checks for one or all accounts; changes nothing. */
export async function runTestInbound(deps: Deps, table: string | undefined, options: { timeout: string }): Promise<number> {
  const { out } = deps;
  const timeoutMs = parseDuration(options.timeout);
  if (timeoutMs === undefined || timeoutMs < 1000) throw new UsageError('E_TIMEOUT', `--timeout "${options.timeout}" is not a duration of at least 1s.`);
  const config = (await deps.config()).read();
  const all = Object.values(config.inbound ?? {});
  const accounts: InboundAccount[] = table ? all.filter((a) => a.table === table) : all;
  if (table && accounts.length === 0) {
    throw new UsageError('E_INBOUND_UNKNOWN', `There is no inbound account for the table "${table}".`, {
      fix: all.length ? `Accounts exist for: ${all.map((a) => a.table).join(', ')}.` : 'Create one first.',
      command: `mailctl configure inbound ${table}`,
    });
  }
  if (accounts.length === 0) {
    out.line('No inbound accounts yet. Create one with: mailctl configure inbound TABLE');
    out.data({ ok: true, accounts: [] });
    return ExitCode.ok;
  }
  const { store } = await deps.secrets();
  const results = [];
  let failed = false;
  for (const account of accounts) {
    const where = `${account.protocol.toUpperCase()} ${account.protocol === 'graph' ? (account.graphBaseUrl ?? 'graph.microsoft.com') : `${account.host}:${account.port}`}`;
    out.line(out.color.bold(`${account.table}`) + `  (${where}, ${account.auth.username}, folder ${account.folder})`);
    const result = await checkAccount(account, { secrets: store, timeoutMs });
    if (result.server.ok) {
      const s = result.server.value;
      out.success(`server: reachable${s.tls ? `, ${s.tls.protocol}` : ''}${s.tls && account.tlsSkipVerify ? ' (certificate NOT verified)' : ''}`);
    } else {
      out.line(`  ${out.color.red('✗')} server: failed during ${result.server.report.phase}: ${result.server.report.error}`);
      showDiagnosis(out, result.server.report.diagnosis, result.server.report.serverSaid);
    }
    if (result.account?.ok) {
      const a = result.account.value;
      out.success(`account is valid: folder ${a.folder}, ${a.messages} message(s)${a.unseen === null ? '' : `, ${a.unseen} unread`}`);
    } else if (result.account) {
      out.line(`  ${out.color.red('✗')} account: failed during ${result.account.report.phase}: ${result.account.report.error}`);
      showDiagnosis(out, result.account.report.diagnosis, result.account.report.serverSaid);
    } else {
      out.line(`  ${out.color.dim('-')} account: not checked (the server did not answer)`);
    }
    const ok = result.server.ok && Boolean(result.account?.ok);
    failed ||= !ok;
    results.push({ table: account.table, protocol: account.protocol, ok, server: result.server, account: result.account });
  }
  out.data({ ok: !failed, accounts: results });
  return failed ? ExitCode.failure : ExitCode.ok;
}
