import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveGlobals } from '../../src/config/globals.js';
import { runInboundCycle, type InboundCycleContext } from '../../src/daemon/inbound-cycle.js';
import { ImapIdleWatcher, idleDefaults, type ImapIdleWatcherOptions } from '../../src/inbound/imap-idle-watcher.js';
import type { InboundAccount } from '../../src/inbound/inbound-config.js';
import type { Logger } from '../../src/logger.js';
import { FileSecretStore } from '../../src/secrets/file-secret-store.js';
import { ContactsRepo } from '../../src/store/contacts-repo.js';
import { openDatabase } from '../../src/store/database.js';
import { FsMessageStore } from '../../src/store/fs-message-store.js';
import { RecordsRepo } from '../../src/store/records-repo.js';
import { TablesRepo } from '../../src/store/tables-repo.js';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { simpleMessage } from '../helpers/messages.js';
import { useTempDirs } from '../helpers/temp-dir.js';

// Issue 15 item 4 (push): the IDLE watcher against a real Dovecot, a proxy that cuts and
// refuses connections, a server that never speaks, and a Dovecot that does not offer IDLE.
describe('IMAP IDLE watcher (real Dovecot)', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  let noIdle: Dovecot;
  let users = 0;
  const watchers: ImapIdleWatcher[] = [];
  const closers: Array<() => Promise<void> | void> = [];
  beforeAll(async () => {
    [dovecot, noIdle] = await Promise.all([
      startDovecot({ users: Array.from({ length: 12 }, (_, i) => ({ name: `box${i}@acme.test`, password: 'pw' })) }),
      startDovecot({ users: [{ name: 'old@acme.test', password: 'pw' }], imapCapabilitiesWithout: ['IDLE'] }),
    ]);
  });
  afterEach(async () => {
    await Promise.all(watchers.splice(0).map((w) => w.stop()));
    for (const close of closers.splice(0)) await close();
  });
  afterAll(async () => {
    await Promise.all([dovecot?.stop(), noIdle?.stop()]);
  });

  interface Logged { level: 'info' | 'warn' | 'error'; message: string; facts: Record<string, unknown> }

  async function watch(options: { password?: string; port?: number; server?: Dovecot; user?: string; timeoutMs?: number; tuning?: Partial<ImapIdleWatcherOptions>; onNewMail?: () => void } = {}) {
    const server = options.server ?? dovecot;
    const user = options.user ?? `box${users++}@acme.test`;
    const dir = tempDir();
    const secrets = new FileSecretStore({ path: join(dir, 's.enc'), keyPath: join(dir, 'k') });
    await secrets.set('pw', options.password ?? 'pw');
    const account = accountFor(user, options.port ?? server.imapPort);
    const logged: Logged[] = [];
    const log: Logger = {
      info: (facts, message) => logged.push({ level: 'info', message, facts }),
      warn: (facts, message) => logged.push({ level: 'warn', message, facts }),
      error: (facts, message) => logged.push({ level: 'error', message, facts }),
    };
    const calls: number[] = [];
    const watcher = new ImapIdleWatcher(account, {
      secrets, timeoutMs: options.timeoutMs ?? 5000, log, random: () => 0,
      onNewMail: () => { calls.push(Date.now()); options.onNewMail?.(); },
      ...options.tuning,
    });
    watchers.push(watcher);
    watcher.start();
    return { watcher, user, account, secrets, dir, logged, calls };
  }

  function accountFor(user: string, port: number): InboundAccount {
    return {
      table: 'contracts', protocol: 'imap', host: '127.0.0.1', port, security: 'none', auth: { type: 'password', username: user, password: '${secret:pw}' },
      folder: 'INBOX', allowRecordCreation: true, unknownSender: 'ignore', notes: 'new-text', afterProcessing: 'mark-read', enabled: true,
    };
  }

  /** Another client's connection that APPENDs, as a mail server's delivery over IMAP would. */
  async function appender(user: string, server: Dovecot = dovecot) {
    const client = new ImapFlow({ host: '127.0.0.1', port: server.imapPort, secure: false, doSTARTTLS: false, auth: { user, pass: 'pw' }, logger: false });
    await client.connect();
    closers.push(() => client.logout().catch(() => undefined));
    return async (subject: string) => {
      await client.append('INBOX', simpleMessage({ subject, messageId: `${subject.replace(/\W/g, '')}-${randomBytes(3).toString('hex')}@acme.test` }));
      return Date.now();
    };
  }

  it('a message appended by another connection calls onNewMail within 2 s; the first connection calls it once', async () => {
    const w = await watch();
    const append = await appender(w.user);
    await until(() => w.watcher.status().state === 'idle' && w.calls.length === 1, 5000);
    await settle(500);
    expect(w.calls).toHaveLength(1); // the connection made: mail may have come before it
    const appendedAt = await append('hello');
    await until(() => w.calls.length === 2, 3000);
    expect(w.calls[1]! - appendedAt).toBeLessThan(2000);
    expect(w.watcher.status()).toMatchObject({ state: 'idle', lastError: null });
    expect(w.logged.filter((l) => l.level !== 'info')).toEqual([]);
  });

  it('a burst of 10 appends makes a few calls, not 10', async () => {
    const w = await watch();
    const append = await appender(w.user);
    await until(() => w.watcher.status().state === 'idle' && w.calls.length === 1, 5000);
    await settle(300);
    for (let i = 0; i < 10; i++) await append(`burst ${i}`);
    await settle(1500);
    const wakes = w.calls.length - 1;
    expect(wakes).toBeGreaterThanOrEqual(1);
    expect(wakes).toBeLessThanOrEqual(3);
  });

  it('IDLE is ended and issued again every idleRestartMs (RFC 2177: before 29 minutes) and still hears new mail', async () => {
    expect(idleDefaults.idleRestartMs).toBeLessThan(29 * 60_000);
    const proxy = await startProxy(dovecot.imapPort);
    closers.push(() => proxy.close());
    const w = await watch({ port: proxy.port, tuning: { idleRestartMs: 300 } });
    await until(() => w.watcher.status().state === 'idle', 5000);
    await settle(1600);
    const sent = proxy.fromClient();
    expect(count(sent, /^[A-Za-z0-9.]+ IDLE\r$/gm)).toBeGreaterThanOrEqual(4);
    expect(count(sent, /^DONE\r$/gm)).toBeGreaterThanOrEqual(3);
    expect(proxy.connections()).toBe(1); // the same connection throughout
    const before = w.calls.length;
    const append = await appender(w.user);
    await append('after restarts');
    await until(() => w.calls.length > before, 3000);
  });

  it('the server drops the connection (doveadm kick): logged once, reconnected, onNewMail called again', async () => {
    const w = await watch();
    await until(() => w.watcher.status().state === 'idle' && w.calls.length === 1, 5000);
    await settle(300);
    execFileSync('doveadm', ['-c', join(dovecot.dir, 'dovecot.conf'), 'kick', w.user], { stdio: 'pipe' });
    await until(() => w.watcher.status().state !== 'idle', 3000);
    await until(() => w.watcher.status().state === 'idle' && w.calls.length === 2, 5000);
    const warnings = w.logged.filter((l) => l.level !== 'info');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(/IDLE on contracts lost its connection .*reconnecting with back-off/);
    expect(w.logged.filter((l) => /connected again/.test(l.message))).toHaveLength(1);
    // Still watching on the new connection.
    const append = await appender(w.user);
    await append('after the kick');
    await until(() => w.calls.length === 3, 3000);
  });

  it('a connection cut and refused for a while: one log line for the outage, back-off, and mail appended meanwhile leads to onNewMail after reconnecting', async () => {
    const proxy = await startProxy(dovecot.imapPort);
    closers.push(() => proxy.close());
    const w = await watch({ port: proxy.port });
    await until(() => w.watcher.status().state === 'idle' && w.calls.length === 1, 5000);
    await settle(300);
    proxy.refuse(true);
    proxy.cutAll();
    await until(() => w.watcher.status().state === 'backing-off', 3000);
    const append = await appender(w.user);
    await append('while away');
    // Attempts at about 1 s (refused) and 1 + 2 s: the outage is open until 2 s after the cut.
    await settle(2000);
    expect(w.watcher.status().state).not.toBe('idle');
    expect(proxy.refused()).toBeGreaterThanOrEqual(1);
    proxy.refuse(false);
    await until(() => w.watcher.status().state === 'idle' && w.calls.length === 2, 5000);
    const warnings = w.logged.filter((l) => l.level !== 'info');
    expect(warnings).toHaveLength(1); // the cut; the refused retry is not logged again
    expect(warnings[0]!.message).toMatch(/lost its connection/);
    expect(w.logged.filter((l) => /connected again/.test(l.message))).toHaveLength(1);
    expect(w.watcher.status().lastError).toBeNull();
  });

  it('a link that goes silent without closing (no FIN, as a NAT that forgot it): found by the keepalive, reconnected', async () => {
    const proxy = await startProxy(dovecot.imapPort);
    closers.push(() => proxy.close());
    const w = await watch({ port: proxy.port, tuning: { keepaliveMs: 400 } });
    await until(() => w.watcher.status().state === 'idle' && w.calls.length === 1, 5000);
    proxy.blackHoleAll();
    // Quiet 400 ms → NOOP (unanswered) → 400 ms more → given up; back-off 1 s; a new connection.
    await until(() => proxy.connections() === 2 && w.watcher.status().state === 'idle' && w.calls.length === 2, 5000);
    expect(w.logged.filter((l) => l.level !== 'info')).toEqual([expect.objectContaining({ message: expect.stringMatching(/lost its connection/) })]);
  });

  it('a login refused again and again: logged once, retried with a growing back-off, the server\'s words kept', async () => {
    const w = await watch({ password: 'wrong', tuning: { backoff: { firstMs: 200 } } });
    const refusals = () => dovecot.log().split('\n').filter((line) => line.includes('auth failed') && line.includes(`user=<${w.user}>`)).length;
    // At 0, 0.2, 0.6 s after the one before: three attempts, one line.
    await until(() => refusals() >= 3, 5000);
    expect(w.watcher.status()).toMatchObject({ state: 'backing-off', lastError: expect.stringMatching(/AUTHENTICATIONFAILED|Authentication failed/) });
    expect(w.logged).toHaveLength(1);
    expect(w.logged[0]).toMatchObject({ level: 'warn', message: expect.stringMatching(/IDLE on contracts could not connect .*refused the login/) });
    expect(w.calls).toEqual([]);
  });

  it('stop() returns within 1 s while connecting to a server that never speaks, and closes the socket', async () => {
    const silent = await startSilentServer();
    closers.push(() => silent.close());
    const w = await watch({ port: silent.port, timeoutMs: 30_000 });
    await until(() => silent.accepted() === 1, 3000);
    expect(w.watcher.status().state).toBe('connecting');
    const started = Date.now();
    await w.watcher.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(w.watcher.status().state).toBe('stopped');
    await until(() => silent.open() === 0, 1000);
    expect(w.calls).toEqual([]);
  });

  it('stop() while idling closes the connection at once, and nothing is called after', async () => {
    const w = await watch();
    await until(() => w.watcher.status().state === 'idle' && w.calls.length === 1, 5000);
    const started = Date.now();
    await w.watcher.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    const append = await appender(w.user);
    await append('after stop');
    await settle(600);
    expect(w.calls).toHaveLength(1);
    expect(w.watcher.status().state).toBe('stopped');
  });

  it('a server without IDLE in its CAPABILITY: "unsupported", said once, and nothing else', async () => {
    const w = await watch({ server: noIdle, user: 'old@acme.test' });
    await until(() => w.watcher.status().state === 'unsupported', 5000);
    await settle(1500);
    expect(w.watcher.status()).toMatchObject({ state: 'unsupported', lastError: expect.stringContaining('does not offer IDLE') });
    expect(w.logged).toEqual([expect.objectContaining({ level: 'info', message: expect.stringContaining('new mail is found by polling') })]);
    expect(w.calls).toEqual([]);
  });

  it('end to end: onNewMail → an immediate poll (as daemon --once, forced) makes a record within 2 s of the APPEND', async () => {
    const dir = tempDir();
    const db = await openDatabase(join(dir, 'mailctl.db'));
    const user = `box${users++}@acme.test`;
    const secrets = new FileSecretStore({ path: join(dir, 's.enc'), keyPath: join(dir, 'k') });
    await secrets.set('pw', 'pw');
    const account = accountFor(user, dovecot.imapPort);
    const clock = { now: () => new Date() };
    new TablesRepo(db, clock).add('contracts');
    new ContactsRepo(db, clock).add({ email: 'pat@acme.test', name: 'Pat', canCreateIn: ['contracts'] });
    const ctx: InboundCycleContext = { db, store: new FsMessageStore(join(dir, 'messages')), clock, secrets, keys: new Map([['k1', randomBytes(32)]]), kb: 'acme-prod', globals: resolveGlobals({}), accounts: [account], log: silentLogger(), timeoutMs: 5000 };
    const logged: string[] = [];
    // One poll at a time; a wake during a poll makes one more after it (what a scheduler does).
    let polling: Promise<void> | undefined;
    let again = false;
    const poll = (): void => {
      if (polling) { again = true; return; }
      polling = (async () => {
        do {
          again = false;
          const [result] = await runInboundCycle(ctx, { force: true });
          if (result?.status !== 'ok') logged.push(`poll: ${JSON.stringify(result)}`);
        } while (again);
      })().finally(() => { polling = undefined; });
    };
    closers.push(async () => { await polling?.catch(() => undefined); db.close(); });
    const watcher = new ImapIdleWatcher(account, { secrets, timeoutMs: 5000, log: { info: () => undefined, warn: (_, m) => logged.push(m), error: (_, m) => logged.push(m) }, onNewMail: poll });
    watchers.push(watcher);
    watcher.start();
    await until(() => watcher.status().state === 'idle', 5000);
    await until(() => polling === undefined, 5000);
    const records = new RecordsRepo(db, clock);
    expect(records.list({ table: 'contracts' })).toEqual([]);
    const append = await appender(user);
    const appendedAt = await append('Lease renewal for unit 4');
    await until(() => records.list({ table: 'contracts' }).length === 1, 3000);
    const latency = Date.now() - appendedAt;
    expect(records.list({ table: 'contracts' })[0]).toMatchObject({ title: 'Lease renewal for unit 4' });
    expect(latency).toBeLessThan(2000);
    expect(logged).toEqual([]);
  });
});

function silentLogger(): Logger {
  return { info: () => undefined, warn: () => undefined, error: () => undefined };
}

/** Resolves once `check()` holds; fails the test after `ms`. */
async function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${check.toString()}`);
    await settle(20);
  }
}

function settle(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(pattern)].length;
}

/**
 * A TCP proxy in front of the server that records what the client sends, can cut every
 * connection at once, silence them (open, carrying nothing), and can refuse new ones (accepted and closed at once, as a server that
 * is restarting does).
 */
async function startProxy(upstreamPort: number) {
  const sockets = new Set<Socket>();
  let refusing = false;
  let refusals = 0;
  let accepted = 0;
  let fromClient = '';
  const links = new Set<{ silent: boolean }>();
  const server: Server = createServer((client) => {
    if (refusing) {
      refusals++;
      client.destroy();
      return;
    }
    accepted++;
    const upstream = connect({ host: '127.0.0.1', port: upstreamPort });
    sockets.add(client);
    sockets.add(upstream);
    const link = { silent: false };
    links.add(link);
    client.on('data', (chunk: Buffer) => {
      fromClient += chunk.toString('latin1');
      if (!link.silent) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => { if (!link.silent) client.write(chunk); });
    const end = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    fromClient: () => fromClient,
    connections: () => accepted,
    refused: () => refusals,
    refuse(on: boolean) { refusing = on; },
    cutAll() { for (const socket of sockets) socket.destroy(); },
    /** The open connections stay open and carry nothing more, either way. */
    blackHoleAll() { for (const link of links) link.silent = true; },
    close: () => new Promise<void>((resolve) => { for (const socket of sockets) socket.destroy(); server.close(() => resolve()); }),
  };
}

/** A server that accepts connections and never says a word (no greeting). */
async function startSilentServer() {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    accepted: () => accepted,
    open: () => sockets.size,
    close: () => new Promise<void>((resolve) => { for (const socket of sockets) socket.destroy(); server.close(() => resolve()); }),
  };
}
