import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { buildMime } from '../../src/mime/build-mime.js';
import { parseHeaderBlock } from '../../src/mime/header-block.js';
import { composeMessage } from '../../src/outbound/compose-message.js';
import { findReference } from '../../src/refs/find-reference.js';
import { openDatabase } from '../../src/store/database.js';
import { runCli } from '../helpers/run-cli.js';
import { startSmtpSink } from '../helpers/smtp-sink.js';
import { useTempDirs } from '../helpers/temp-dir.js';

/** The header section's lines (CRLF ends, folded lines each on their own). */
function headerLines(raw: Buffer | string): string[] {
  const text = raw.toString();
  return text.slice(0, text.indexOf('\r\n\r\n')).split('\r\n');
}

const longRule = `renewal-${'r'.repeat(1500)}`;

describe('header lines never exceed 998 characters (RFC 5322 §2.1.1)', () => {
  const tempDir = useTempDirs();

  it('a 1,500-character rule id, a 2,000-character subject and 40 recipients: every line ≤ 998, and the reference and subject read back whole', async () => {
    const key = { id: 'k1', bytes: Buffer.alloc(32, 7) };
    const keys = new Map([[key.id, key.bytes]]);
    const to = Array.from({ length: 40 }, (_, i) => `recipient-number-${i}@customer.test`);
    for (const subject of [`Renewal ${'x'.repeat(2000)}`, Array.from({ length: 300 }, (_, i) => `word${i}`).join(' '), `Änderung ${'ü'.repeat(1500)}`]) {
      const message = await composeMessage(
        { from: 'records@acme.test', to, subject, text: 'Hello', headers: { 'X-Mailctl-Original-To': to.join(', ') } },
        { kb: 'acme', serverUrl: `https://records.acme.test/${'p'.repeat(600)}`, table: 'contracts', recordId: 42, origin: `rule:${longRule}`, sentAt: new Date('2026-11-27T10:00:00Z') },
        key,
      );
      const lines = headerLines(message.raw);
      expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(998);
      const headers = parseHeaderBlock(message.raw.toString('latin1'));
      const found = findReference(headers, keys).found;
      expect(found).toMatchObject({ kind: 'full', source: 'header', reference: { recordId: 42, origin: `rule:${longRule}` } });
      const parsed = await simpleParser(message.raw);
      expect(parsed.subject).toBe(message.subject);
      expect((Array.isArray(parsed.to) ? parsed.to[0] : parsed.to)?.value.map((v) => v.address)).toEqual(to);
      expect(parsed.headers.get('x-mailctl-original-to')).toBe(to.join(', '));
    }
  });

  it('a long display name and a long extra header fold too', () => {
    const raw = buildMime({ from: `${'Acme '.repeat(300)}<records@acme.test>`, to: ['pat@acme.test'], subject: 'Hi', date: new Date(), messageId: 'x@acme.test', text: 'x', headers: { 'X-Note': 'n'.repeat(3000) } });
    expect(Math.max(...headerLines(raw).map((l) => l.length))).toBeLessThanOrEqual(998);
  });

  it('send refuses a rule id over 64 characters, and mailctl\'s own; a queued row with one from before still goes out with short lines', async () => {
    const sink = await startSmtpSink();
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    try {
      for (const args of [
        ['init', '--name', 'acme', '--url', 'https://records.acme.test', '--environment', 'production'],
        ['tables', 'add', 'contracts'],
        ['records', 'add', '--table', 'contracts', '--title', 'MSA'],
        ['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'none', '--from', 'records@acme.test', '--no-verify'],
      ]) expect((await runCli(args, { env })).code).toBe(0);
      const send = (rule: string) => runCli(['send', '--table', 'contracts', '--record', '1', '--to', 'pat@acme.test', '--subject', 'Renewal', '--body', 'Hello', '--rule', rule, '--json'], { env });
      const long = await send(longRule);
      expect(long.code, long.stdout).toBe(2);
      expect(JSON.parse(long.stdout)).toMatchObject({ ok: false, error: { code: 'E_RULE_ID' } });
      expect(long.stdout.length).toBeLessThan(1000); // the message names the id short
      expect(JSON.parse((await send('inbound-reject')).stdout)).toMatchObject({ ok: false, error: { code: 'E_RULE_ID' } });
      expect((await send('renewal-reminder')).code).toBe(0);

      // A row queued before the check: its rule id is as long as it was.
      const db = await openDatabase(join(env.MAILCTL_HOME, 'mailctl.db'));
      db.prepare('UPDATE outbound_queue SET rule_id = ?').run(longRule);
      db.close();
      const once = await runCli(['daemon', '--once'], { env, timeoutMs: 60_000 });
      expect(once.code, once.stdout + once.stderr).toBe(0);
      expect(sink.messages).toHaveLength(1);
      expect(Math.max(...headerLines(sink.messages[0]!.raw).map((l) => l.length))).toBeLessThanOrEqual(998);
      const decoded = await runCli(['headers', 'decode', '-', '--json'], { env, input: sink.messages[0]!.raw.toString('latin1') });
      expect(JSON.parse(decoded.stdout)).toMatchObject({ ok: true, source: 'header', reference: { recordId: 1, origin: `rule:${longRule}` } });
    } finally {
      await sink.close();
    }
  });
});
