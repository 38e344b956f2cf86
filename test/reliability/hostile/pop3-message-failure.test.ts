import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InboundFailure } from '../../../src/inbound/inbound-failure.js';
import { Pop3Source } from '../../../src/inbound/pop3-source.js';
import { startPop3Server, writeAll, type Pop3TestServer } from '../../helpers/pop3-server.js';

/**
 * Issue 14, item 2 (the POP3 side of per-message isolation): a message whose RETR fails part-way
 * — the server drops the connection, sends more than it listed, or the reader gives up — fails
 * as that message (an InboundFailure of phase "fetch" naming its key), and the same source then
 * takes the next message: it connects and logs in again, and finds the message numbers of the
 * new session. Deletions asked in the new session are committed at its QUIT.
 */
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const message = (n: number, lines = 50 * n) => Buffer.from(`From: lee@partner.test\r\nSubject: message ${n}\r\nMessage-ID: <m${n}@partner.test>\r\n\r\n${'body line\r\n'.repeat(lines)}`);

async function read(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function failureOf(work: Promise<unknown>): Promise<InboundFailure> {
  try {
    await work;
  } catch (error) {
    expect(error).toBeInstanceOf(InboundFailure);
    return error as InboundFailure;
  }
  throw new Error('expected a failure');
}

describe('POP3: one message\'s failed RETR leaves the source usable for the next', () => {
  let server: Pop3TestServer;
  // Message 4 is 2 MB: a reader that stops after its first piece leaves most of it on the wire.
  const good = [message(2), message(3), message(4, 200_000)];
  beforeAll(async () => {
    server = await startPop3Server({
      'drops@acme.test': { password: 'pw', messages: [
        // Half the message, then the connection is cut.
        { uidl: 'cut-1', raw: message(1), retr: async (socket, m) => {
          await writeAll(socket, Buffer.concat([Buffer.from('+OK\r\n'), m.raw.subarray(0, m.raw.length / 2)]));
          socket.destroy();
        } },
        { uidl: 'ok-2', raw: good[0]! },
        // Far more than listed.
        { uidl: 'liar-3', raw: message(3), listedSize: 10, retr: async (socket) => {
          await writeAll(socket, '+OK\r\n');
          while (!socket.destroyed) await writeAll(socket, Buffer.alloc(256 * 1024, 'B'));
        } },
        { uidl: 'ok-4', raw: good[2]! },
        { uidl: 'ok-5', raw: message(5) },
      ] },
    });
  });
  afterAll(() => server?.close());

  it('a cut connection, an oversized message, a reader that gives up: each fails as its message; the next ones are taken and deleted', async () => {
    const source = new Pop3Source({ host: '127.0.0.1', port: server.port, security: 'none', user: 'drops@acme.test', credential: { pass: 'pw' }, folder: 'INBOX', afterProcessing: 'delete', timeoutMs: 5000 });
    try {
      const refs = await source.list({ unseenOnly: false });
      expect(refs.map((r) => r.key)).toEqual(['pop3:cut-1', 'pop3:ok-2', 'pop3:liar-3', 'pop3:ok-4', 'pop3:ok-5']);
      const [cut, ok2, liar, ok4, ok5] = refs as [typeof refs[0], typeof refs[0], typeof refs[0], typeof refs[0], typeof refs[0]];

      const dropped = await failureOf(read(await source.open(cut)));
      expect(dropped).toMatchObject({ phase: 'fetch', protocol: 'pop3' });
      expect(dropped.message).toMatch(/^Taking pop3:cut-1 \(RETR 1\) failed: the server closed the connection/);

      expect(sha256(await read(await source.open(ok2)))).toBe(sha256(good[0]!));
      await source.markDone(ok2);

      const oversized = await failureOf(read(await source.open(liar)));
      expect(oversized).toMatchObject({ phase: 'fetch', detailCode: 'MESSAGE_TOO_LARGE' });
      expect(oversized.message).toMatch(/^Taking pop3:liar-3 \(RETR 3\) failed: the server sent more than 1048596 bytes for a message it listed at 10/);

      // The reader gives up part-way (as the parser does when the store fails): the rest of
      // that message is still on the wire, so the next open needs a new session.
      const partial = await source.open(ok4);
      await new Promise<void>((resolve) => partial.once('readable', () => resolve()));
      partial.destroy();
      expect(sha256(await read(await source.open(ok4)))).toBe(sha256(good[2]!));
      await source.markDone(ok4);
      expect((await read(await source.open(ok5))).length).toBe(message(5).length);
    } finally {
      await source.close();
    }
    // One session for the listing and the cut message, then one after each failure.
    expect(server.connections()).toBe(4);
    // ok-2's deletion was asked in a session that broke before its QUIT: POP3 drops it (the
    // next poll lists ok-2 again, knows it as taken, and deletes it then). ok-4's session ended
    // with QUIT, so it is gone.
    expect(server.deleted('drops@acme.test')).toEqual(['ok-4']);
  });
});
