import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { simpleMessage } from '../helpers/messages.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { startDaemon, waitUntil } from '../reliability/outage-daemon.js';

/**
 * Issue 15, push: with IMAP IDLE, a message APPENDed by another connection becomes a record within
 * 2 s although the polling interval is an hour; the server dropping the IDLE connection is logged
 * once, the connection comes back, and mail that arrived meanwhile is taken.
 */
describe('the running daemon with IMAP IDLE (real Dovecot)', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  const user = 'contracts@acme.test';
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: user, password: 'c-pass' }] });
  });
  afterAll(() => dovecot?.stop());

  async function appendOver(subject: string): Promise<number> {
    const client = new ImapFlow({ host: '127.0.0.1', port: dovecot.imapPort, secure: false, doSTARTTLS: false, auth: { user, pass: 'c-pass' }, logger: false });
    await client.connect();
    try {
      await client.append('INBOX', simpleMessage({ from: 'pat@acme.test', subject, messageId: `${subject.replace(/\W/g, '')}@acme.test` }));
      return Date.now();
    } finally {
      await client.logout().catch(() => undefined);
    }
  }

  it('a message appended is a record within 2 s with an hour between polls; the connection cut by the server is restored and nothing is missed', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const ok = async (args: string[], input?: string) => {
      const r = await runCli(args, { env, ...(input !== undefined ? { input } : {}) });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    };
    await ok(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production']);
    await ok(['tables', 'add', 'contracts']);
    await ok(['contacts', 'add', 'pat@acme.test', '--can-create', 'contracts']);
    await ok(['config', 'set', 'inbound_check_frequency', '1h']);
    await ok(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none', '--auth', 'password',
      '--username', user, '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'ignore', '--notes', 'new-text', '--after', 'mark-read'], 'c-pass');
    const daemon = await startDaemon(env);
    const db = await openDatabase(join(env.MAILCTL_HOME, 'mailctl.db'));
    const recordedAt = (subject: string) => (db.prepare('SELECT count(*) AS n FROM communications WHERE subject = ?').get(subject) as { n: number }).n > 0;
    try {
      await waitUntil(() => daemon.logLines().some((l) => l.msg === 'polled contracts'), 'the first poll', 15_000, daemon.output);
      await new Promise((r) => setTimeout(r, 1000)); // the IDLE connection settles

      const latencies: number[] = [];
      for (const n of [1, 2, 3]) {
        const subject = `pushed ${n}`;
        const appendedAt = await appendOver(subject);
        await waitUntil(() => recordedAt(subject), `"${subject}" to be a record`, 10_000, daemon.output);
        latencies.push(Date.now() - appendedAt);
      }
      expect(Math.max(...latencies), `latencies ${latencies.join(', ')} ms`).toBeLessThan(2000);

      // The server drops the IDLE connection (and the poll's, if one is open).
      const polls = daemon.logLines().filter((l) => l.msg === 'polled contracts').length;
      execFileSync('doveadm', ['-c', join(dovecot.dir, 'dovecot.conf'), 'kick', user], { stdio: 'pipe' });
      const meanwhile = await appendOver('while the connection was down');
      await waitUntil(() => recordedAt('while the connection was down'), 'the message appended around the cut to be a record', 10_000, daemon.output);
      expect(Date.now() - meanwhile).toBeLessThan(5000);
      expect(daemon.logLines().filter((l) => l.msg === 'polled contracts').length).toBeGreaterThan(polls);
      const lost = daemon.logLines().filter((l) => typeof l.msg === 'string' && /IDLE on contracts lost its connection/.test(l.msg));
      expect(lost).toHaveLength(1);
      // Back on IDLE: the next message is pushed again.
      const again = await appendOver('after the cut');
      await waitUntil(() => recordedAt('after the cut'), '"after the cut" to be a record', 10_000, daemon.output);
      expect(Date.now() - again).toBeLessThan(2500);
    } finally {
      db.close();
      expect((await daemon.stop()).code).toBe(0);
    }
  }, 90_000);
});
