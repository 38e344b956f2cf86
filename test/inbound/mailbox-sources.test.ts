import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InboundFailure } from '../../src/inbound/inbound-failure.js';
import { ImapSource } from '../../src/inbound/imap-source.js';
import type { MailSource } from '../../src/inbound/mail-source.js';
import { Pop3Source } from '../../src/inbound/pop3-source.js';
import { probeServer } from '../../src/inbound/server-probe.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { freePort } from '../helpers/free-port.js';
import { digestStream, largeMessage, sha256, simpleMessage } from '../helpers/messages.js';

const user = 'contracts@acme.test';
const pass = 'imap-pa55';

describe.each(['imap', 'pop3'] as const)('%s source against a real Dovecot', (protocol) => {
  let dovecot: Dovecot;
  let big: Buffer;
  const dotted = simpleMessage({ subject: 'dots', body: '.leading dot\r\n..two dots\r\n.\r\nend', messageId: 'dots@acme.test' });
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: user, password: pass }], tls: true, folders: ['Archive'] });
    dovecot.deliver(user, simpleMessage({ subject: 'first', messageId: 'first@acme.test' }));
    dovecot.deliver(user, dotted);
    big = largeMessage(25 * 1024 * 1024);
    dovecot.deliver(user, big);
  });
  afterAll(() => dovecot?.stop());

  const plainPort = () => (protocol === 'imap' ? dovecot.imapPort : dovecot.pop3Port);
  const tlsPort = () => (protocol === 'imap' ? dovecot.imapsPort : dovecot.pop3sPort);
  const source = (over: Partial<{ port: number; security: 'tls' | 'starttls' | 'none'; pass: string; folder: string; tlsSkipVerify: boolean; host: string }> = {}): MailSource => {
    const options = {
      host: over.host ?? '127.0.0.1',
      port: over.port ?? plainPort(),
      security: over.security ?? 'none',
      tlsSkipVerify: over.tlsSkipVerify,
      user,
      credential: { pass: over.pass ?? pass },
      folder: over.folder ?? 'INBOX',
      afterProcessing: protocol === 'imap' ? ('mark-read' as const) : ('keep' as const),
      timeoutMs: 5000,
    };
    return protocol === 'imap' ? new ImapSource(options) : new Pop3Source(options);
  };
  const failure = async (work: Promise<unknown>): Promise<InboundFailure> => {
    try {
      await work;
    } catch (error) {
      expect(error).toBeInstanceOf(InboundFailure);
      return error as InboundFailure;
    }
    throw new Error('expected a failure');
  };

  it('a valid account: server check, then account check', async () => {
    const s = source();
    const server = await s.verifyServer();
    expect(server.greeting).toMatch(protocol === 'imap' ? /^\* OK/ : /^\+OK/);
    expect(server.capabilities.length).toBeGreaterThan(0);
    expect(await s.verifyAccount()).toMatchObject({ messages: 3 });
    await s.close();
  });

  it('a wrong password fails in the auth phase with the server\'s words', async () => {
    const s = source({ pass: 'wrong' });
    const f = await failure(s.verifyAccount());
    expect(f.phase).toBe('auth');
    expect(f.message).toMatch(protocol === 'imap' ? /AUTHENTICATIONFAILED|Authentication failed/i : /-ERR/);
    await s.close();
  });

  it('a wrong port fails in the connect phase (refused)', async () => {
    const port = await freePort();
    const f = await failure(source({ port }).verifyServer());
    expect(f).toMatchObject({ phase: 'connect', detailCode: 'ECONNREFUSED' });
    const g = await failure(source({ port }).verifyAccount());
    expect(g.phase).toBe('connect');
  });

  it('a missing folder fails in the folder phase', async () => {
    const s = source({ folder: 'Contracts2019' });
    const f = await failure(s.verifyAccount());
    expect(f).toMatchObject({ phase: 'folder', detailCode: 'NONEXISTENT' });
    await s.close();
  });

  it('TLS with a self-signed certificate is rejected unless the account\'s flag is set', async () => {
    const f = await failure(source({ port: tlsPort(), security: 'tls' }).verifyServer());
    expect(f).toMatchObject({ phase: 'tls', detailCode: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    const g = await failure(source({ port: plainPort(), security: 'starttls' }).verifyServer());
    expect(g).toMatchObject({ phase: 'tls', detailCode: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    const h = await failure(source({ port: tlsPort(), security: 'tls' }).verifyAccount());
    expect(h.phase).toBe('tls');

    const trusted = source({ port: tlsPort(), security: 'tls', tlsSkipVerify: true });
    expect((await trusted.verifyServer()).tls?.protocol).toMatch(/^TLSv1\.[23]$/);
    expect(await trusted.verifyAccount()).toMatchObject({ messages: 3 });
    await trusted.close();
    const upgraded = source({ security: 'starttls', tlsSkipVerify: true });
    expect((await upgraded.verifyServer()).tls).not.toBeNull();
    expect(await upgraded.verifyAccount()).toMatchObject({ messages: 3 });
    await upgraded.close();
  });

  it('lists and streams messages byte for byte, a 25 MB one included, without holding it whole', async () => {
    const s = source();
    const refs = await s.list({ unseenOnly: false });
    expect(refs).toHaveLength(3);
    expect(refs.map((r) => r.key)).toSatisfy((keys: string[]) => keys.every((k) => k.startsWith(`${protocol}:`)));
    const bigRef = refs.find((r) => r.size > 20 * 1024 * 1024)!;
    expect(bigRef).toBeDefined();
    const digest = await digestStream(() => s.open(bigRef));
    expect(digest.bytes).toBe(big.length);
    expect(digest.sha256).toBe(sha256(big));
    expect(digest.chunks).toBeGreaterThan(10);
    expect(digest.peakExtraBytes).toBeLessThan(20 * 1024 * 1024);
    // Dot-stuffed lines (POP3) and literal dots (IMAP) come back exactly.
    const dotRef = refs.find((r) => r.size === Buffer.byteLength(dotted))!;
    const dots = await digestStream(await s.open(dotRef));
    expect(dots.sha256).toBe(sha256(dotted));
    await s.close();
  });
});

describe('the server probe', () => {
  it('says when a port answers with another protocol (POP3 on an IMAP account)', async () => {
    const dovecot = await startDovecot({ users: [{ name: user, password: pass }] });
    try {
      const f = await probeServer({ protocol: 'imap', host: '127.0.0.1', port: dovecot.pop3Port, security: 'none', timeoutMs: 3000 }).catch((e: unknown) => e as InboundFailure);
      expect(f).toMatchObject({ phase: 'greeting' });
      expect((f as InboundFailure).message).toContain('is not IMAP');
    } finally {
      await dovecot.stop();
    }
  });
});

describe('the streaming-memory check itself', () => {
  it('catches a source that holds the whole message in memory', async () => {
    const { randomBytes } = await import('node:crypto');
    const { Readable } = await import('node:stream');
    const digest = await digestStream(async () => {
      const whole = randomBytes(25 * 1024 * 1024); // what a buffering source would do
      return Readable.from([whole.subarray(0, 12 * 1024 * 1024), whole.subarray(12 * 1024 * 1024)]);
    });
    expect(digest.peakExtraBytes).toBeGreaterThan(20 * 1024 * 1024);
  });
});
