import { randomBytes } from 'node:crypto';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveGlobals } from '../../src/config/globals.js';
import { runInboundCycle } from '../../src/daemon/inbound-cycle.js';
import type { InboundAccount } from '../../src/inbound/inbound-config.js';
import { silentLogger } from '../../src/logger.js';
import { FileSecretStore } from '../../src/secrets/file-secret-store.js';
import { FsMessageStore } from '../../src/store/fs-message-store.js';
import { openDatabase } from '../../src/store/database.js';
import { TablesRepo } from '../../src/store/tables-repo.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { simpleMessage } from '../helpers/messages.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const boxes = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'];

/** A proxy in front of Dovecot that counts sessions open at once (connected, not yet logged out) and slows each greeting by 300 ms (so polls overlap). */
async function countingProxy(target: number) {
  let open = 0;
  let peak = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    open++;
    peak = Math.max(peak, open);
    const upstream = createConnection({ host: '127.0.0.1', port: target });
    sockets.add(client).add(upstream);
    let greeted = false;
    upstream.on('data', (chunk: Buffer) => {
      if (greeted) return void client.write(chunk);
      greeted = true;
      setTimeout(() => client.write(chunk), 300);
    });
    let closed = false;
    client.on('data', (chunk: Buffer) => {
      // Done once it logs out: the socket's own close may come after the next poll has connected.
      if (!closed && / LOGOUT\r\n/i.test(chunk.toString('latin1'))) { closed = true; open--; }
      upstream.write(chunk);
    });
    const end = () => {
      if (!closed) { closed = true; open--; }
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    peak: () => peak,
    reset: () => { peak = open; },
    close: async () => { for (const s of sockets) s.destroy(); await new Promise((r) => server.close(r)); },
  };
}

describe('max_mailbox_connections: mailboxes polled at once, over all accounts', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  let proxy: Awaited<ReturnType<typeof countingProxy>>;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: boxes.map((b) => ({ name: `${b}@acme.test`, password: 'pw' })) });
    proxy = await countingProxy(dovecot.imapPort);
  });
  afterAll(async () => {
    await proxy?.close();
    await dovecot?.stop();
  });

  it('six accounts are polled side by side, never more than the cap at once (2, then 6)', async () => {
    const dir = tempDir();
    const clock = { now: () => new Date() };
    const db = await openDatabase(join(dir, 'mailctl.db'));
    const secrets = new FileSecretStore({ path: join(dir, 's.enc'), keyPath: join(dir, 'k') });
    await secrets.set('pw', 'pw');
    const accounts: InboundAccount[] = boxes.map((b) => ({
      table: b, protocol: 'imap', host: '127.0.0.1', port: proxy.port, security: 'none', auth: { type: 'password', username: `${b}@acme.test`, password: '${secret:pw}' },
      folder: 'INBOX', allowRecordCreation: false, unknownSender: 'ignore', notes: 'new-text', afterProcessing: 'mark-read', enabled: true,
    }));
    for (const b of boxes) new TablesRepo(db, clock).add(b);
    const cycle = async (cap: string) => {
      for (const b of boxes) dovecot.deliver(`${b}@acme.test`, simpleMessage({ subject: `for ${b}`, messageId: `${b}-${randomBytes(3).toString('hex')}@acme.test` }));
      proxy.reset();
      const started = Date.now();
      const results = await runInboundCycle({
        db, store: new FsMessageStore(join(dir, 'messages')), clock, secrets, keys: new Map([['k1', randomBytes(32)]]), kb: 'acme-prod',
        globals: resolveGlobals({ max_mailbox_connections: cap }), accounts, log: silentLogger, timeoutMs: 5000,
      }, { force: true });
      expect(results.map((r) => r.status)).toEqual(boxes.map(() => 'ok'));
      return { peak: proxy.peak(), ms: Date.now() - started };
    };
    const two = await cycle('2');
    expect(two.peak).toBe(2);
    const six = await cycle('6');
    expect(six.peak).toBeGreaterThan(2);
    expect(six.peak).toBeLessThanOrEqual(6);
    // Side by side, six slow greetings cost about one, not six.
    expect(six.ms).toBeLessThan(two.ms);
    db.close();
  });
});
