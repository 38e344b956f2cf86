import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpSink, type SmtpSink } from '../../helpers/smtp-sink.js';
import { runCli } from '../../helpers/run-cli.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { setUpKb, sql } from './daemon-kb.js';

// Issue 15, "Truthful status": elsewhere than the recording host, the heartbeat decides. A
// heartbeat in the future (a clock that ran ahead on the other host, then was corrected; or a
// hand-edited row) counts as recent for as long as it stays in the future: `now - at <= window`.
describe('issue 15 attack: a daemon_state row from another host with a heartbeat in the future', () => {
  const tempDir = useTempDirs();
  let sink: SmtpSink;
  beforeAll(async () => { sink = await startSmtpSink({}); });
  afterAll(async () => sink?.close());

  for (const mode of ['loop', 'once'] as const) {
    it(`${mode}: a heartbeat a year ahead, from a host that is gone, is not "up" (status --check exits 2)`, async () => {
      const s = await setUpKb(tempDir(), sink.port);
      const future = new Date(Date.now() + 365 * 86_400_000).toISOString();
      sql(s.home, `INSERT OR REPLACE INTO daemon_state (kb, pid, host, started_at, heartbeat_at, mode) VALUES ('acme-prod', 4242, 'gone-host.acme.test', ?, ?, ?)`, future, future, mode);
      const check = await runCli(['status', '--check'], { env: s.env });
      console.info(`mode ${mode}, heartbeat ${future} from gone-host: status --check exit ${check.code}: ${(check.stdout + check.stderr).trim().split('\n')[0]}`);
      const set = await runCli(['config', 'set', 'inbound_check_frequency', '5m'], { env: s.env });
      console.info(`config set then says: ${(set.stdout + set.stderr).trim().split('\n').slice(-1)[0]}`);
      expect(check.code).toBe(2);
    }, 60_000);
  }
});
