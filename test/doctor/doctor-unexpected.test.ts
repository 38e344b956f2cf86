import { describe, expect, it } from 'vitest';
import { useTempDirs } from '../helpers/temp-dir.js';
import { doctor, findingsOf, newKb, ok } from './doctor-helpers.js';

describe('doctor: "Unexpected or duplicate emails are received"', () => {
  const tempDir = useTempDirs();
  const envFor = () => ({ MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' });
  const server = ['configure', 'server', '--host', '127.0.0.1', '--port', '2525', '--security', 'none', '--auth', 'none', '--from', 'records@acme.test', '--no-verify'];

  it('a test KB that may send to real recipients (no redirect) → error; with a redirect → clean', async () => {
    const env = envFor();
    await newKb(env, 'test');
    await ok(env, server);
    expect(findingsOf(await doctor(env, '--only', 'outbound', '--no-network'), 'outbound.nonproduction')).toEqual([]); // held by default
    await ok(env, ['config', 'set', 'nonproduction_allow_outbound', 'true']);
    const report = await doctor(env, '--only', 'outbound', '--no-network');
    expect(report.ok).toBe(false);
    expect(findingsOf(report, 'outbound.nonproduction')).toEqual([expect.objectContaining({
      severity: 'error', symptom: 'unexpected', title: 'This test KB sends to real recipients', command: 'mailctl config set nonproduction_redirect test-inbox@example.com',
    })]);
    await ok(env, ['config', 'set', 'nonproduction_redirect', 'qa@acme.test']);
    const fixed = await doctor(env, '--only', 'outbound', '--no-network');
    expect(findingsOf(fixed, 'outbound.nonproduction')).toEqual([]);
    expect(fixed.passed.map((p) => p.summary)).toContain('acme is a test KB: all its mail goes to qa@acme.test');
  });

  it('duplicates held back, grouped by the rule that sent them; a rule mailing the same record again and again', async () => {
    const env = envFor();
    const { recordId } = await newKb(env);
    await ok(env, server);
    const send = (rule: string, body: string) => ok(env, ['send', '--table', 'contracts', '--record', String(recordId), '--to', 'pat@acme.test', '--subject', 'Renewal due', '--body', body, '--rule', rule]);
    await send('renewal-reminder', 'Your contract renews soon.');
    await send('renewal-reminder', 'Your contract renews soon.'); // the rule fired twice: held back
    await send('renewal-reminder', 'Your contract renews soon.');
    await send('status-change', 'Status: signed (1)'); // differing content each time: not duplicates, but a loop
    await send('status-change', 'Status: signed (2)');
    await send('status-change', 'Status: signed (3)');

    const report = await doctor(env, '--only', 'queue', '--no-network');
    expect(findingsOf(report, 'queue.duplicates')).toEqual([expect.objectContaining({
      severity: 'warning', title: '2 duplicate(s) from rule renewal-reminder held back in the last 7 days', command: 'mailctl queue list --status duplicate',
    })]);
    expect(findingsOf(report, 'queue.rule-repeats')).toEqual([expect.objectContaining({
      severity: 'warning', title: `Rule status-change mailed contracts record ${recordId} to pat@acme.test 3 times in the last 7 days`, command: `mailctl comms list --table contracts --record ${recordId}`,
    })]);
  });
});
