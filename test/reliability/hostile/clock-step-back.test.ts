import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../../helpers/dovecot.js';
import { startSmtpSink, type SmtpSink } from '../../helpers/smtp-sink.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { startDaemon, waitUntil } from '../outage-daemon.js';
import { polls, setUpKb, sql } from './daemon-kb.js';

// Issue 15, "each inbound account runs on its own schedule": the due time is last_poll_at (as the
// clock said then) + the frequency. A clock stepped back after a poll (NTP correcting a clock that
// ran an hour ahead; a VM restored from a snapshot) leaves last_poll_at in the future: the account
// is not polled until the wall clock catches up. Simulated by recording the last poll an hour
// ahead, as a daemon whose clock ran an hour fast would have.
describe('issue 15 attack: the clock stepped back an hour after a poll', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  let sink: SmtpSink;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'contracts@acme.test', password: 'c-pass' }] });
    sink = await startSmtpSink({});
  });
  afterAll(async () => {
    await sink?.close();
    await dovecot?.stop();
  });

  it('an account polled every 5 s (IDLE off) is still polled', async () => {
    const s = await setUpKb(tempDir(), sink.port);
    await s.inbound('contracts', dovecot.imapPort, 'c-pass');
    await s.ok(['config', 'set', 'inbound_check_frequency', '5s']);
    await s.ok(['config', 'set', 'imap_idle', 'false']);
    const daemon = await startDaemon(s.env);
    try {
      await waitUntil(() => polls(daemon, 'contracts') >= 1, 'the first poll', 15_000, daemon.output);
      const ahead = Date.now() + 3600_000;
      sql(s.home, `UPDATE inbound_sync SET last_poll_at = ?, next_poll_at = ? WHERE account = 'contracts'`, new Date(ahead).toISOString(), new Date(ahead + 5000).toISOString());
      const before = polls(daemon, 'contracts');
      await new Promise((r) => setTimeout(r, 15_000));
      const after = polls(daemon, 'contracts') - before;
      const check = await (await import('../../helpers/run-cli.js')).runCli(['status', '--check'], { env: s.env });
      console.info(`polls in the 15 s after the step back (frequency 5 s): ${after}; status --check exit ${check.code}: ${check.stdout.trim().split('\n')[0]}`);
      expect(after).toBeGreaterThanOrEqual(2);
    } finally {
      await daemon.stop();
    }
  }, 90_000);
});
