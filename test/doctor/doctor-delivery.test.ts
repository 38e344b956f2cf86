import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { freePort } from '../helpers/free-port.js';
import { simpleMessage } from '../helpers/messages.js';
import { binPath, runCli } from '../helpers/run-cli.js';
import { clockAhead, runMain } from '../helpers/run-main.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { doctor, doctorReport, findingsOf, newKb, ok } from './doctor-helpers.js';

describe('doctor: a healthy installation against real servers, then "No emails are received or sent"', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  let sink: SmtpSink;
  let sinkPort: number;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'contracts@acme.test', password: 'c-pass' }] });
    sinkPort = await freePort();
    sink = await startSmtpSink({ port: sinkPort, auth: { user: 'records@acme.test', pass: 's-pass' } });
  });
  afterAll(async () => {
    await sink?.close();
    await dovecot?.stop();
  });

  it('clean while the daemon runs; then a killed daemon, a stopped SMTP server, a stopped IMAP server, a failed poll, mail stuck for hours and the kill switch are each reported with their fix', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const { recordId } = await newKb(env);
    await ok(env, ['configure', 'server', '--host', '127.0.0.1', '--port', String(sinkPort), '--security', 'none', '--auth', 'password', '--username', 'records@acme.test',
      '--from', 'records@acme.test', '--secret-stdin'], 's-pass');
    await ok(env, ['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none', '--auth', 'password',
      '--username', 'contracts@acme.test', '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore', '--notes', 'new-text', '--after', 'mark-read'], 'c-pass');
    dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'pat@acme.test', subject: 'Hello', messageId: 'hello-1@acme.test' }));

    // Healthy: the daemon runs, both servers answer, nothing is wrong.
    const daemon = spawn(process.execPath, [binPath, 'daemon', '--tick', '0.2s'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
    const exited = new Promise((resolve) => daemon.on('exit', resolve));
    try {
      for (let i = 0; ; i++) {
        const status = JSON.parse((await runCli(['status', '--json'], { env })).stdout);
        if (status.daemon.state === 'up' && status.accounts[0].lastOkAt) break;
        if (i > 100) throw new Error('the daemon did not come up');
        await new Promise((r) => setTimeout(r, 200));
      }
      const healthy = await runCli(['doctor'], { env, timeoutMs: 60_000 });
      expect(healthy.code, healthy.stdout + healthy.stderr).toBe(0);
      expect(healthy.stdout).toMatch(/^0 error\(s\), 0 warning\(s\), \d+ check\(s\) passed$/m);
      const clean = await doctor(env);
      expect(clean.findings).toEqual([]);
      expect(clean.passed.map((p) => p.summary)).toEqual(expect.arrayContaining([
        expect.stringMatching(/^daemon up since /),
        `outbound 127.0.0.1:${sinkPort} (no TLS): connected and logged in as records@acme.test`,
        expect.stringMatching(new RegExp(`^inbound contracts \\(IMAP 127\\.0\\.0\\.1:${dovecot.imapPort}\\): server reachable, account valid`)),
      ]));
    } finally {
      daemon.kill('SIGKILL'); // it dies without a word, as after an OOM kill
      await exited;
    }

    // Its pid is gone on this host: crashed at once (and ten minutes later, still).
    const later = doctorReport(await runMain(['doctor', '--json', '--no-network'], { env, clock: clockAhead(10 * 60_000) }));
    expect(findingsOf(later, 'daemon.heartbeat')).toEqual([expect.objectContaining({ severity: 'error', title: expect.stringMatching(new RegExp(`^The daemon crashed: pid ${daemon.pid} is gone without a clean stop; its last heartbeat was `)), command: 'mailctl daemon' })]);
    expect(findingsOf(later, 'daemon.heartbeat')[0]!.seen).toContain(`pid ${daemon.pid}`);

    // The SMTP server stops.
    await sink.close();
    let report = await doctor(env, '--only', 'outbound');
    const [login] = findingsOf(report, 'outbound.login');
    expect(login).toMatchObject({ severity: 'error', symptom: 'not-moving', title: `The outbound server 127.0.0.1:${sinkPort} failed while connecting to the server` });
    expect(login!.seen).toMatch(/ECONNREFUSED|refused/i);
    expect(login!.cause).toContain(`Nothing accepts connections on 127.0.0.1:${sinkPort}`);

    // Mail queued meanwhile fails; three hours on it is still failing.
    await ok(env, ['send', '--table', 'contracts', '--record', String(recordId), '--to', 'pat@acme.test', '--subject', 'Renewal', '--body', 'due']);
    await ok(env, ['daemon', '--once']);
    report = doctorReport(await runMain(['doctor', '--json', '--no-network', '--only', 'queue'], { env, clock: clockAhead(3 * 3600_000) }));
    expect(findingsOf(report, 'queue.deferred')).toEqual([expect.objectContaining({ severity: 'warning', title: '1 message(s) have been failing for over an hour and are retried', command: 'mailctl queue show 1' })]);

    // The IMAP server stops: the account check fails now, and the daemon's last poll failed.
    await dovecot.stop();
    report = await doctor(env, '--only', 'inbound');
    const [account] = findingsOf(report, 'inbound.accounts');
    expect(account).toMatchObject({ severity: 'error', title: `The inbound account of contracts (IMAP 127.0.0.1:${dovecot.imapPort}) failed its server check during connect` });
    await runCli(['daemon', '--once'], { env });
    report = await doctor(env, '--only', 'inbound', '--no-network');
    const [poll] = findingsOf(report, 'inbound.last-poll');
    expect(poll).toMatchObject({ severity: 'error', title: expect.stringMatching(/^The last poll of contracts failed \(1 time\(s\) in a row, last success /) });
    expect(poll!.seen).toMatch(/ECONNREFUSED|refused/i);
    expect(report.skipped).toEqual(['inbound.accounts']);

    // An account switched off by hand in config.json is not polled: a warning, not a connection attempt.
    const configPath = join(env.MAILCTL_HOME, 'config.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8'));
    config.inbound.contracts.enabled = false;
    writeFileSync(configPath, JSON.stringify(config), { mode: 0o600 });
    report = await doctor(env, '--only', 'inbound');
    expect(findingsOf(report, 'inbound.accounts')).toEqual([expect.objectContaining({ severity: 'warning', title: 'The inbound account of contracts is disabled', command: 'mailctl configure inbound contracts' })]);

    // The kill switch.
    await ok(env, ['config', 'set', 'email_enabled', 'false']);
    report = await doctor(env, '--no-network');
    expect(findingsOf(report, 'config.email-enabled')).toEqual([expect.objectContaining({ severity: 'error', title: 'Email is switched off (email_enabled is false)', command: 'mailctl config set email_enabled true' })]);
  }, 180_000);
});
