import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/store/database.js';
import { startDovecot, type Dovecot } from '../../helpers/dovecot.js';
import { simpleMessage } from '../../helpers/messages.js';
import { bySize } from '../../helpers/reliability-tier.js';
import { runCli } from '../../helpers/run-cli.js';
import { startSmtpSink, type SmtpSink } from '../../helpers/smtp-sink.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

describe('hostile mail: backscatter through the reject notice', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  let sink: SmtpSink;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'contracts@acme.test', password: 'c-pass' }] });
    sink = await startSmtpSink();
  });
  afterAll(async () => {
    await sink?.close();
    await dovecot?.stop();
  });

  async function rejectingKb(): Promise<{ MAILCTL_HOME: string; MAILCTL_SECRET_BACKEND: string }> {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    for (const args of [
      ['init', '--name', 'acme', '--url', 'https://records.acme.test', '--environment', 'production'],
      ['tables', 'add', 'contracts'],
      // The outbound from-address differs from the inbound login: both are the KB's own.
      ['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'none', '--from', 'records@acme.test', '--no-verify'],
    ]) {
      const r = await runCli(args, { env });
      expect(r.code, r.stderr).toBe(0);
    }
    const inbound = await runCli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none', '--auth', 'password',
      '--username', 'contracts@acme.test', '--secret-stdin', '--folder', 'INBOX', '--no-create-records', '--unknown-sender', 'reject', '--notes', 'new-text', '--after', 'mark-read'], { env, input: 'c-pass' });
    expect(inbound.code, inbound.stderr).toBe(0);
    return env;
  }

  it('many forged messages "from" one victim give it one short notice, and none again in reject_notice_interval', async () => {
    const env = await rejectingKb();
    const forged = bySize(200, 20);
    // The spammer's text in the subject, with terminal escapes, a right-to-left override and our own prefix.
    const spam = 'Not accepted: \u001b[31mCHEAP PILLS\u001b[0m \u202e at pills.example, click now, best prices, limited offer, act fast';
    for (let i = 0; i < forged; i++) dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'Victim <victim@victim.test>', subject: `${spam} #${i}`, messageId: `spam-${i}@attacker.test` }));
    const first = await runCli(['daemon', '--once'], { env, timeoutMs: 60_000 });
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout + first.stderr).toContain(`${forged} processed (${forged} rejected)`);
    for (let i = 0; i < 5; i++) dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'victim@victim.test', subject: `${spam} again ${i}`, messageId: `spam-again-${i}@attacker.test` }));
    const second = await runCli(['daemon', '--once'], { env, timeoutMs: 60_000 });
    expect(second.code, second.stdout + second.stderr).toBe(0);

    const toVictim = sink.messages.filter((m) => m.to.includes('victim@victim.test'));
    expect(toVictim).toHaveLength(1);
    const notice = await simpleParser(toVictim[0]!.raw);
    expect(notice.headers.get('auto-submitted')).toBe('auto-replied');
    // The subject is ours alone; the body quotes 60 characters at most, with no control or direction character.
    expect(notice.subject).toMatch(/^Not accepted: your message to contracts \[ref:[A-Za-z0-9_-]+\]$/);
    const quoted = /Your message "([^"]*)"/.exec(notice.text ?? '')?.[1] ?? '';
    expect([...quoted].length).toBeLessThanOrEqual(60);
    expect(quoted).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/);
    expect(quoted).not.toMatch(/^Not accepted/i);
    expect(notice.text!.length).toBeLessThan(500);

    const db = await openDatabase(join(env.MAILCTL_HOME, 'mailctl.db'));
    const rows = db.prepare("SELECT reason FROM communications WHERE direction = 'inbound' ORDER BY id").all() as Array<{ reason: string }>;
    db.close();
    expect(rows).toHaveLength(forged + 5);
    // The others say why no notice went out.
    expect(rows.slice(1).every((r) => r.reason.includes('no notice: victim@victim.test was sent one at'))).toBe(true);
  }, 60_000);

  it('mail forged "from" the KB\'s own addresses (its outbound from-address, its inbound login) gets no notice', async () => {
    const env = await rejectingKb();
    const before = sink.messages.length;
    dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'records@acme.test', subject: 'From our own outbound address', messageId: 'own-1@attacker.test' }));
    dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'Contracts <CONTRACTS@acme.test>', subject: 'From our own mailbox', messageId: 'own-2@attacker.test' }));
    for (let round = 0; round < 3; round++) {
      const once = await runCli(['daemon', '--once'], { env, timeoutMs: 60_000 });
      expect(once.code, once.stdout + once.stderr).toBe(0);
    }
    expect(sink.messages.slice(before)).toEqual([]);
    const db = await openDatabase(join(env.MAILCTL_HOME, 'mailctl.db'));
    const rows = db.prepare("SELECT reason FROM communications WHERE direction = 'inbound' ORDER BY id").all() as Array<{ reason: string }>;
    const queued = db.prepare('SELECT count(*) AS n FROM outbound_queue').get() as { n: number };
    db.close();
    expect(rows.map((r) => /no notice: (\S+) is this KB's own address/.exec(r.reason)?.[1])).toEqual(['records@acme.test', 'contracts@acme.test']);
    expect(queued.n).toBe(0);
  }, 60_000);

  it('sub-address tags, odd spellings and many victims: one notice per mailbox, none to the KB\'s tagged addresses, at most 30 an hour in all; a notice deleted from the queue still counts', async () => {
    const env = await rejectingKb();
    const before = sink.messages.length;
    // One person behind many tags and spellings; the KB's own addresses behind tags; addresses a notice must not go to.
    const senders = ['victim+1@victim.test', 'victim+2@victim.test', 'Victim+Spam@VICTIM.test', 'victim@victim.test.', 'records+x@acme.test', 'contracts+y@acme.test',
      'kb@[127.0.0.1]', '=?utf-8?q?victim@victim.test?='];
    senders.forEach((from, i) => dovecot.deliver('contracts@acme.test', simpleMessage({ from, subject: `tag ${i}`, messageId: `tag-${i}@attacker.test` })));
    const first = await runCli(['daemon', '--once'], { env, timeoutMs: 60_000 });
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(sink.messages.slice(before).map((m) => m.to)).toEqual([['victim+1@victim.test']]);

    // The notice is deleted from the queue: the next forged message still finds it counted.
    const ids = (JSON.parse((await runCli(['--json', 'queue', 'list'], { env })).stdout) as { entries: Array<{ id: number }> }).entries.map((e) => e.id);
    expect(ids.length).toBe(1);
    const deleted = await runCli(['queue', 'delete', String(ids[0])], { env });
    expect(deleted.code, deleted.stdout + deleted.stderr).toBe(0);
    dovecot.deliver('contracts@acme.test', simpleMessage({ from: 'victim+again@victim.test', subject: 'after the delete', messageId: 'tag-again@attacker.test' }));

    // Forty forged victims, each a different mailbox: thirty notices, then the hourly cap.
    for (let i = 0; i < 40; i++) dovecot.deliver('contracts@acme.test', simpleMessage({ from: `person${i}@victims${i}.test`, subject: `spread ${i}`, messageId: `spread-${i}@attacker.test` }));
    const second = await runCli(['daemon', '--once'], { env, timeoutMs: 60_000 });
    expect(second.code, second.stdout + second.stderr).toBe(0);
    const later = sink.messages.slice(before + 1);
    expect(later.some((m) => m.to.some((t) => t.endsWith('@victim.test')))).toBe(false);
    expect(later).toHaveLength(29); // 30 an hour in all, the first notice included
    const db = await openDatabase(join(env.MAILCTL_HOME, 'mailctl.db'));
    const reasons = (db.prepare("SELECT reason FROM communications WHERE direction = 'inbound' ORDER BY id").all() as Array<{ reason: string }>).map((r) => r.reason);
    db.close();
    expect(reasons.filter((r) => /is this KB's own address/.test(r))).toHaveLength(2);
    // Issue 16: "victim@victim.test." is read as victim@victim.test (its root dot removed), which
    // had its notice; an address only inside an encoded word is an invalid sender (no notice).
    expect(reasons.filter((r) => /not one mail can be sent to/.test(r))).toHaveLength(1);
    expect(reasons.filter((r) => /no notice: the sender is invalid: From/.test(r))).toHaveLength(1);
    expect(reasons.filter((r) => /no notice: victim@victim.test was sent one at/.test(r))).toHaveLength(4);
    expect(reasons.filter((r) => /30 notices went out in the last hour/.test(r))).toHaveLength(11);
  }, 90_000);
});
