import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { startSmtpSink } from '../helpers/smtp-sink.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { parseHeaderBlock } from '../../src/mime/header-block.js';

describe('mailctl headers decode and keys rotate', () => {
  const tempDir = useTempDirs();

  it('traces a message to its KB; only the subject survives; after a key rotation; and says why when there is none', async () => {
    const sink = await startSmtpSink({});
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    try {
      await runCli(['init', '--name', 'acme-test', '--url', 'https://records.acme.test', '--environment', 'test'], { env });
      await runCli(['configure', 'server', '--host', '127.0.0.1', '--port', String(sink.port), '--security', 'none', '--auth', 'none', '--from', 'records@acme.test'], { env });
      expect((await runCli(['test-send', '--to', 'pat@acme.test'], { env })).code).toBe(0);
      const raw = sink.messages[0]!.raw.toString('latin1');

      // From stdin, human output.
      const human = await runCli(['headers', 'decode', '-'], { env, input: raw });
      expect(human.code).toBe(0);
      expect(human.stdout).toMatch(/KB\s+acme-test/);
      expect(human.stdout).toMatch(/rule or workflow\s+test-send/);

      // Exchange-style: custom header and Message-ID gone, only "RE: subject [ref:…]" left.
      const subject = parseHeaderBlock(raw).get('subject')!;
      const stripped = `From: pat@acme.test\r\nSubject: RE: ${subject}\r\nMessage-ID: <reply-1@acme.test>\r\n\r\nThanks\r\n`;
      const onlySubject = JSON.parse((await runCli(['headers', 'decode', '-', '--json'], { env, input: stripped })).stdout);
      expect(onlySubject).toMatchObject({ ok: true, source: 'subject', reference: { kb: 'acme-test', table: null, recordId: null } });

      // After a rotation the old message still decodes, and new mail uses the new key.
      const rotated = await runCli(['keys', 'rotate', '--json'], { env });
      expect(JSON.parse(rotated.stdout)).toMatchObject({ active: 'k2', keys: ['k1', 'k2'] });
      const file = join(env.MAILCTL_HOME, 'old.eml');
      writeFileSync(file, raw, 'latin1');
      expect(JSON.parse((await runCli(['headers', 'decode', file, '--json'], { env })).stdout)).toMatchObject({ ok: true, keyId: 'k1' });
      await runCli(['test-send', '--to', 'pat@acme.test'], { env });
      expect(JSON.parse((await runCli(['headers', 'decode', '-', '--json'], { env, input: sink.messages[1]!.raw.toString('latin1') })).stdout)).toMatchObject({ keyId: 'k2' });

      // Someone else's mail, and a forged reference: "no reference", exit 1, with the reason.
      const none = await runCli(['headers', 'decode', '-'], { env, input: 'From: a@b.test\r\nSubject: hi\r\n\r\nbody' });
      expect(none.code).toBe(1);
      expect(none.stdout).toContain('carries no mailctl reference at all');
      const forged = raw.replace(/^(X-Mailctl-Ref:\s*)(\S)/m, (_m, head: string, first: string) => head + (first === 'A' ? 'B' : 'A'));
      const forgedResult = await runCli(['headers', 'decode', '-', '--json'], { env, input: forged.replace(/^Message-ID:[\s\S]*?(?=^\S)/m, '').replace(/\[ref:[^\]]+\]/, '') });
      expect(forgedResult.code).toBe(1);
      expect(JSON.parse(forgedResult.stdout).rejected[0]).toMatchObject({ source: 'header' });

      expect((await runCli(['headers', 'decode', '/no/such.eml'], { env })).code).toBe(2);
    } finally {
      await sink.close();
    }
  });
});
