import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../../helpers/dovecot.js';
import { runCli } from '../../helpers/run-cli.js';
import { startSmtpSink, type SmtpSink } from '../../helpers/smtp-sink.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { startDaemon, waitUntil } from '../outage-daemon.js';
import { polls, setUpKb } from './daemon-kb.js';

/** Edits config.json by hand, as an admin with an editor would (a new file renamed over it, mode 0600). */
function handEdit(home: string, change: (config: Record<string, any>) => void): void {
  const path = join(home, 'config.json');
  const config = JSON.parse(readFileSync(path, 'utf8')) as Record<string, any>;
  change(config);
  writeFileSync(`${path}.edit`, JSON.stringify(config, null, 2), { mode: 0o600 });
  renameSync(`${path}.edit`, path);
}

// Issue 15, "Bad input: a config file broken by hand ... keeps the last good configuration".
// globals are only checked to be strings by the schema; resolveGlobals does not check range or syntax.
describe('issue 15 attack: globals broken by hand while the daemon runs', () => {
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

  for (const bad of ['0s', 'soon']) {
    it(`inbound_check_frequency "${bad}" (out of range / not a duration) is refused, not polled back to back`, async () => {
      const s = await setUpKb(tempDir(), sink.port);
      await s.inbound('contracts', dovecot.imapPort, 'c-pass');
      await s.ok(['config', 'set', 'inbound_check_frequency', '1h']);
      await s.ok(['config', 'set', 'imap_idle', 'false']);
      const daemon = await startDaemon(s.env);
      try {
        await waitUntil(() => polls(daemon, 'contracts') >= 1, 'the first poll', 15_000, daemon.output);
        handEdit(s.home, (c) => { c.globals.inbound_check_frequency = bad; });
        await new Promise((r) => setTimeout(r, 1000));
        const before = polls(daemon, 'contracts');
        await new Promise((r) => setTimeout(r, 3000));
        const inThreeSeconds = polls(daemon, 'contracts') - before;
        const refused = daemon.logLines().some((l) => l.msg === 'the configuration cannot be loaded; the daemon keeps running on the previous one');
        const workerErrors = daemon.logLines().filter((l) => String(l.msg).startsWith('the worker for contracts failed')).map((l) => l.error);
        console.info(`inbound_check_frequency "${bad}": ${inThreeSeconds} polls in 3 s (setting was 1h); refused: ${refused}; worker errors: ${JSON.stringify(workerErrors)}`);
        expect({ refused, inThreeSeconds }).toEqual({ refused: true, inThreeSeconds: 0 });
      } finally {
        await daemon.stop();
      }
    }, 90_000);
  }

  it('max_mailbox_connections "many" with email_enabled "true": "keeps the previous configuration" is said, yet the new kill switch value is used', async () => {
    const s = await setUpKb(tempDir(), sink.port);
    await s.inbound('contracts', dovecot.imapPort, 'c-pass');
    await s.ok(['config', 'set', 'inbound_check_frequency', '1h']);
    await s.ok(['config', 'set', 'email_enabled', 'false']);
    await s.ok(['send', '--table', 'contracts', '--record', String(s.recordId), '--to', 'pat@acme.test', '--subject', 'Held by the kill switch', '--body', 'x']);
    const daemon = await startDaemon(s.env);
    try {
      await new Promise((r) => setTimeout(r, 1500));
      expect(sink.messages.some((m) => m.raw.toString().includes('Held by the kill switch'))).toBe(false);
      handEdit(s.home, (c) => { c.globals.email_enabled = 'true'; c.globals.max_mailbox_connections = 'many'; });
      await new Promise((r) => setTimeout(r, 4000));
      const said = daemon.logLines().find((l) => l.msg === 'the configuration cannot be loaded; the daemon keeps running on the previous one');
      const status = await runCli(['status'], { env: s.env });
      const sent = sink.messages.some((m) => m.raw.toString().includes('Held by the kill switch'));
      console.info(`daemon said: ${JSON.stringify(said?.error)}; status: ${/previous configuration/.test(status.stdout + status.stderr) ? 'running on the previous configuration' : 'no note'}; held message sent: ${sent}`);
      // Either the edit is applied (and nothing says it was refused), or refused and nothing is sent.
      expect(said !== undefined && sent, 'it says it kept the previous configuration (kill switch on) but sent the held message').toBe(false);
    } finally {
      await daemon.stop();
    }
  }, 90_000);
});
