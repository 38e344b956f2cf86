import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { doctor, findingsOf, newKb, ok } from './doctor-helpers.js';

describe('doctor: "Some emails won\'t send" against a real SMTP server', () => {
  const tempDir = useTempDirs();
  const envFor = () => ({ MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' });
  let sink: SmtpSink | undefined;
  afterEach(async () => {
    await sink?.close();
    sink = undefined;
  });
  const configure = (env: Record<string, string>, port: number, ...extra: string[]) =>
    ok(env, ['configure', 'server', '--host', '127.0.0.1', '--port', String(port), '--security', 'none', '--auth', 'none', '--from', 'records@acme.test', ...extra]);
  const send = (env: Record<string, string>, recordId: number, ...extra: string[]) =>
    ok(env, ['send', '--table', 'contracts', '--record', String(recordId), '--to', 'pat@acme.test', '--subject', 'Renewal', ...extra]);

  it('a from-address that is empty or not an address → error naming the fix', async () => {
    const env = envFor();
    await newKb(env);
    sink = await startSmtpSink();
    await configure(env, sink.port);
    const path = join(env.MAILCTL_HOME, 'config.json');
    const config = JSON.parse(readFileSync(path, 'utf8'));
    for (const from of ['', 'records at acme']) {
      config.outbound.from = from; // as a hand edit or a field value that came out empty
      writeFileSync(path, JSON.stringify(config), { mode: 0o600 });
      const report = await doctor(env, '--only', 'outbound');
      expect(report.ok).toBe(false);
      expect(findingsOf(report, 'outbound.from-address')).toEqual([expect.objectContaining({
        severity: 'error', symptom: 'wont-send', title: from === '' ? 'The outbound server has no from-address' : 'The from-address "records at acme" is not a valid email address',
        command: 'mailctl configure server --from records@example.com',
      })]);
    }
  });

  it('Microsoft 365 with a from-address other than the login → a Send As warning', async () => {
    const env = envFor();
    await newKb(env);
    await ok(env, ['configure', 'server', '--preset', 'microsoft365', '--auth', 'password', '--username', 'svc-mail@acme.test', '--from', 'records@acme.test', '--secret-stdin', '--no-verify'], 'pw');
    const [finding] = findingsOf(await doctor(env, '--only', 'outbound', '--no-network'), 'outbound.from-address');
    expect(finding).toMatchObject({ severity: 'warning', title: 'The from-address records@acme.test is not the mailbox that logs in (svc-mail@acme.test)', command: 'mailctl configure server --from svc-mail@acme.test' });
    expect(finding!.cause).toContain('Microsoft 365 refuses mail whose From is another mailbox');
  });

  it('queued messages over limits lowered since → warning with the queue ids; messages the server refused as too large → error', async () => {
    const env = envFor();
    const { recordId } = await newKb(env);
    sink = await startSmtpSink({ rejectData: '552 5.3.4 Message size exceeds fixed maximum message size' });
    await configure(env, sink.port);
    const attachment = join(tempDir(), 'contract.pdf');
    writeFileSync(attachment, Buffer.alloc(60 * 1024, 7));
    await send(env, recordId, '--body', 'see attached', '--attach', attachment);
    await ok(env, ['config', 'set', 'max_attachment_size', '20KB']);
    await send(env, recordId, '--body', 'a small one');

    let report = await doctor(env, '--only', 'queue', '--no-network');
    expect(findingsOf(report, 'queue.over-limits')).toEqual([expect.objectContaining({
      severity: 'warning', title: '1 waiting message(s) are over today\'s size limits', seen: '#1 (queued): attachments 60 KB > max_attachment_size 20KB', command: 'mailctl queue delete 1',
    })]);
    const errors = (r: typeof report) => r.findings.filter((f) => f.severity === 'error').map((f) => f.check);
    expect(errors(report)).toEqual(['daemon.heartbeat']); // a warning is not an error; the daemon has not run yet

    await ok(env, ['daemon', '--once']); // the server answers 552 to both: a permanent failure
    report = await doctor(env, '--only', 'queue', '--no-network');
    const [sized] = findingsOf(report, 'queue.size-failures');
    expect(sized).toMatchObject({ severity: 'error', title: '2 message(s) in the last 7 days were refused as too large by the server', command: 'mailctl config set max_attachment_size 10MB' });
    expect(sized!.seen).toContain('552 5.3.4 Message size exceeds fixed maximum message size');
    expect(errors(report)).toContain('queue.size-failures');
  });

  it('the server refuses the from-address (5.7.60 SendAsDenied) → error', async () => {
    const env = envFor();
    const { recordId } = await newKb(env);
    sink = await startSmtpSink({ rejectSender: '550 5.7.60 SMTP; Client does not have permissions to send as this sender' });
    await configure(env, sink.port);
    await send(env, recordId, '--body', 'hello');
    await ok(env, ['daemon', '--once']);
    const [finding] = findingsOf(await doctor(env, '--only', 'queue', '--no-network'), 'queue.size-failures');
    expect(finding).toMatchObject({ severity: 'error', title: '1 message(s) in the last 7 days were refused because of their from-address', command: 'mailctl configure server --from ADDRESS' });
    expect(finding!.seen).toContain('5.7.60');
  });

  it('the server\'s SIZE is below what the limits allow → warning with the attachment limit that fits; a roomy server passes', async () => {
    const env = envFor();
    await newKb(env);
    sink = await startSmtpSink({ size: 5 * 1024 * 1024 });
    await configure(env, sink.port);
    let report = await doctor(env, '--only', 'outbound');
    expect(findingsOf(report, 'outbound.server-size')).toEqual([expect.objectContaining({
      severity: 'warning', title: 'The server accepts at most 5.0 MB, less than the size limits allow', command: 'mailctl config set max_attachment_size 3MB',
    })]);
    await ok(env, ['config', 'set', 'max_attachment_size', '3MB']);
    report = await doctor(env, '--only', 'outbound');
    expect(findingsOf(report, 'outbound.server-size')).toEqual([]);
    expect(report.passed.map((p) => p.summary)).toContain('the size limits fit the server\'s SIZE 5.0 MB');
  });
});
