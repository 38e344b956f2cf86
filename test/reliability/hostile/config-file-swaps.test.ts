import { chmodSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/run-cli.js';
import { startSmtpSink, type SmtpSink } from '../../helpers/smtp-sink.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { startDaemon } from '../outage-daemon.js';
import { setUpKb } from './daemon-kb.js';

const refusedMsg = 'the configuration cannot be loaded; the daemon keeps running on the previous one';
const appliedMsg = 'configuration changed: the daemon runs on it now';

// Issue 15, bad input: config.json swapped for a symlink, truncated mid-write, made world-writable.
describe('issue 15 attack: config.json swapped, truncated, loosened while the daemon runs', () => {
  const tempDir = useTempDirs();
  let sink: SmtpSink;
  beforeAll(async () => { sink = await startSmtpSink({}); });
  afterAll(async () => sink?.close());

  it('each is refused with a log line, the previous configuration kept, status says so', async () => {
    const s = await setUpKb(tempDir(), sink.port);
    const path = join(s.home, 'config.json');
    const good = readFileSync(path, 'utf8');
    const daemon = await startDaemon(s.env);
    const seen: Record<string, string> = {};
    const step = async (name: string, act: () => void) => {
      const from = daemon.logLines().length;
      act();
      await new Promise((r) => setTimeout(r, 1500));
      const lines = daemon.logLines().slice(from);
      const status = await runCli(['status'], { env: s.env });
      seen[name] = `status exit ${status.code}: ${(status.stdout + status.stderr).trim().split('\n')[0]!.slice(0, 90)} -- ${lines.some((l) => l.msg === refusedMsg) ? 'refused' : lines.some((l) => l.msg === appliedMsg) ? 'APPLIED' : 'not noticed'}; status ${/previous configuration/.test(status.stdout + status.stderr) ? 'says previous' : 'silent'}`;
    };
    try {
      // 1. A symlink to a copy elsewhere that sets the kill switch (another user's file could be the target).
      const elsewhere = join(tempDir(), 'other.json');
      writeFileSync(elsewhere, JSON.stringify({ ...JSON.parse(good), globals: { ...JSON.parse(good).globals, email_enabled: 'false' } }), { mode: 0o600 });
      await step('symlink', () => { symlinkSync(elsewhere, `${path}.link`); renameSync(`${path}.link`, path); });
      await step('restore', () => { writeFileSync(`${path}.x`, good, { mode: 0o600 }); renameSync(`${path}.x`, path); });
      // 2. Truncated in place mid-write: half the JSON.
      await step('truncated', () => writeFileSync(path, good.slice(0, Math.floor(good.length / 2))));
      await step('restore2', () => writeFileSync(path, good));
      // 3. Made world-writable (no content change), then edited by "someone".
      await step('chmod 666', () => chmodSync(path, 0o666));
      await step('edited while 666', () => writeFileSync(path, good.replace('"production"', '"production" ')));
      console.info(`config.json attacks: ${JSON.stringify(seen, null, 1)}`);
      // Found: truncation and the edit while 666 were refused by the daemon, but plain `status` only said the
      // file is broken (exit 3), never "running on the previous configuration"; a chmod alone changed no
      // size/mtime/inode, so the daemon did not notice it. Both fixed. The symlink to a 0600 file of the same
      // user is followed and applied: that file is as trusted as config.json itself (left so, README).
      expect(seen.truncated).toMatch(/-- refused/);
      // Still untrusted for the same reason: refused again, logged once per problem (the chmod's line).
      expect(seen['edited while 666']).toMatch(/-- (refused|not noticed); status says previous$/);
      expect(seen['chmod 666']).toMatch(/-- refused/);
      expect(seen.truncated).toMatch(/says previous$/);
    } finally {
      chmodSync(path, 0o600);
      await daemon.stop();
    }
  }, 90_000);
});
