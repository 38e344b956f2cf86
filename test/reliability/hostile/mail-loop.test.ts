import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/store/database.js';
import { startDovecot, type Dovecot } from '../../helpers/dovecot.js';
import { simpleMessage } from '../../helpers/messages.js';
import { bySize } from '../../helpers/reliability-tier.js';
import { runCli } from '../../helpers/run-cli.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

/** What went through the relay: envelope and bytes, in order. */
interface Relayed {
  from: string;
  to: string[];
  raw: string;
}

/**
 * The mail system between the KBs, in-process on loopback: an SMTP server that takes what a KB
 * sends and delivers it into the recipient's Dovecot maildir as a delivery agent would (with
 * Return-Path and Delivered-To). `forwarder` is an outside address whose mail is sent on to
 * another mailbox the way a careless forwarding rule does: From rewritten to itself, and the
 * Auto-Submitted, X-Loop, X-Auto-Response-Suppress and X-Mailctl-Ref headers dropped on the way
 * (Exchange drops custom headers too).
 */
async function startRelay(dovecot: Dovecot, mailboxes: string[], forwarder: { address: string; to: string }) {
  const relayed: Relayed[] = [];
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['AUTH', 'STARTTLS'], logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        const to = session.envelope.rcptTo.map((r) => r.address.toLowerCase());
        relayed.push({ from, to, raw });
        for (const rcpt of to) {
          if (mailboxes.includes(rcpt)) dovecot.deliver(rcpt, `Return-Path: <${from}>\r\nDelivered-To: ${rcpt}\r\n${raw}`);
          else if (rcpt === forwarder.address) {
            const stripped = raw.replace(/^(Auto-Submitted|X-Loop|X-Auto-Response-Suppress|X-Mailctl-Ref):[^\r\n]*\r\n/gim, '').replace(/^From:[^\r\n]*/im, `From: ${forwarder.address}`);
            dovecot.deliver(forwarder.to, `Return-Path: <${forwarder.address}>\r\nDelivered-To: ${forwarder.to}\r\n${stripped}`);
          }
        }
        callback(null, `Ok: queued as R${relayed.length}`);
      });
    },
  });
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { port: (server.server.address() as { port: number }).port, relayed, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A KB whose one inbound account (table contracts) rejects strangers and whose mail goes out through the relay. */
async function makeKb(home: string, name: string, address: string, imapPort: number, relayPort: number) {
  const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
  const steps: string[][] = [
    ['init', '--name', name, '--url', `https://records.${name}.test`, '--environment', 'production'],
    ['tables', 'add', 'contracts'],
    ['configure', 'server', '--host', '127.0.0.1', '--port', String(relayPort), '--security', 'none', '--auth', 'none', '--from', address, '--no-verify'],
  ];
  for (const args of steps) {
    const r = await runCli(args, { env });
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  }
  const inbound = await runCli(['configure', 'inbound', 'contracts', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(imapPort), '--security', 'none', '--auth', 'password',
    '--username', address, '--secret-stdin', '--folder', 'INBOX', '--no-create-records', '--unknown-sender', 'reject', '--notes', 'new-text', '--after', 'mark-read', '--no-verify'], { env, input: 'pw' });
  expect(inbound.code, inbound.stderr).toBe(0);
  return env;
}

async function inboundRows(env: { MAILCTL_HOME: string }) {
  const db = await openDatabase(join(env.MAILCTL_HOME, 'mailctl.db'));
  try {
    return db.prepare("SELECT from_addr AS sender, subject, disposition, reason FROM communications WHERE direction = 'inbound' ORDER BY id").all() as Array<{ sender: string; subject: string; disposition: string; reason: string }>;
  } finally {
    db.close();
  }
}

describe('hostile mail: a forged sender between two KBs that both reject strangers', () => {
  const tempDir = useTempDirs();
  const a = 'records@kb-a.test';
  const b = 'records@kb-b.test';
  const forwarder = 'everything@forward.test';
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: a, password: 'pw' }, { name: b, password: 'pw' }] });
  });
  afterAll(() => dovecot?.stop());

  it('each stranger gets one notice at most, with Auto-Submitted, and it is never answered: no loop between the KBs, none with itself, none through a forwarder', async () => {
    const relay = await startRelay(dovecot, [a, b], { address: forwarder, to: a });
    try {
      const envA = await makeKb(tempDir(), 'kb-a', a, dovecot.imapPort, relay.port);
      const envB = await makeKb(tempDir(), 'kb-b', b, dovecot.imapPort, relay.port);
      // Forged into A: "from" B (the two KBs would answer each other), "from" A itself (it would
      // answer itself on every poll), and "from" an address that forwards back to A stripped of
      // Auto-Submitted (only A's own reference in the Message-ID can tell the notice then).
      dovecot.deliver(a, simpleMessage({ from: b, to: a, subject: 'Forged from B', messageId: 'forged-b@attacker.test' }));
      dovecot.deliver(a, simpleMessage({ from: a, to: a, subject: 'Forged from A itself', messageId: 'forged-a@attacker.test' }));
      dovecot.deliver(a, simpleMessage({ from: forwarder, to: a, subject: 'Forged from the forwarder', messageId: 'forged-f@attacker.test' }));

      const rounds = bySize(8, 4);
      for (let round = 0; round < rounds; round++) {
        for (const env of [envA, envB]) {
          const once = await runCli(['daemon', '--once', '--timeout', '10s'], { env, timeoutMs: 60_000 });
          expect(once.code, once.stdout + once.stderr).toBe(0);
        }
      }

      // Two notices in all, each once: to B (which does not answer it) and to the forwarder (whose
      // copy comes back to A and is recognised). None to A itself.
      const notices = relay.relayed.filter((m) => /^Subject: Not accepted/im.test(m.raw));
      expect(relay.relayed.map((m) => m.to.join(','))).toEqual(expect.arrayContaining([b, forwarder]));
      expect(relay.relayed).toHaveLength(2);
      expect(notices).toHaveLength(2);
      for (const notice of relay.relayed) {
        const parsed = await simpleParser(notice.raw);
        expect(parsed.headers.get('auto-submitted')).toBe('auto-replied');
        expect(parsed.headers.get('x-loop')).toBe(a);
        expect(parsed.subject).not.toMatch(/Not accepted:.*Not accepted/i);
        expect(notice.to).not.toContain(a);
      }

      const rowsA = await inboundRows(envA);
      const rowsB = await inboundRows(envB);
      // B took A's notice as automatic mail and sent nothing.
      expect(rowsB).toHaveLength(1);
      expect(rowsB[0]).toMatchObject({ sender: a, disposition: 'auto-reply' });
      // A: the three forged messages, then its own notice back from the forwarder, recognised by its reference.
      expect(rowsA.map((r) => [r.sender, r.disposition])).toEqual([[b, 'rejected'], [a, 'rejected'], [forwarder, 'rejected'], [forwarder, 'auto-reply']]);
      expect(rowsA[1]!.reason).toContain(`no notice: ${a} is this KB's own address`);
      expect(rowsA[3]!.reason).toContain('our own automatic notice came back');
      expect([...rowsA, ...rowsB].every((r) => !/Not accepted:.*Not accepted/i.test(r.subject))).toBe(true);
    } finally {
      await relay.close();
    }
  }, 120_000);
});
