import type { ImapFlow as ImapFlowType } from 'imapflow';
import type { TokenProvider } from '../auth/token-provider.js';
import { systemClock, type Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { imapConnectOptions } from './imap-connect-options.js';
import { imapFailure } from './imap-source.js';
import type { InboundAccount } from './inbound-config.js';
import { accountTokens, mailboxConnectionOf, type SourceContext } from './open-source.js';

/** What an IDLE watcher is doing, for status and metrics. */
export type IdleWatcherState = 'connecting' | 'idle' | 'backing-off' | 'unsupported' | 'stopped';

export interface IdleWatcherStatus {
  state: IdleWatcherState;
  /** When it entered that state. */
  since: Date;
  /** Why the last connection failed or ended, or why IDLE is unsupported; null once IDLE runs again. */
  lastError: string | null;
}

export interface ImapIdleWatcherOptions extends Pick<SourceContext, 'secrets' | 'timeoutMs' | 'tokensFor'> {
  clock?: Clock;
  log: Logger;
  /**
   * Called when mail may have arrived: new messages announced (EXISTS), and once on every
   * connection made (mail may have come while it was away). The caller polls; the watcher
   * never reads mail. Must not throw (a throw is logged and ignored).
   */
  onNewMail: () => void;
  /** Announcements within this many ms make one call (default 200). */
  debounceMs?: number;
  /** IDLE is ended and issued again after this many ms (default 25 minutes; RFC 2177 §3: under 29). */
  idleRestartMs?: number;
  /** A connection quiet this long is checked with a NOOP, and given up when that goes unanswered as long again (default 2 minutes). */
  keepaliveMs?: number;
  /** Back-off between connection attempts: first, doubling up to max (defaults 1 s, 5 minutes). */
  backoff?: { firstMs?: number; maxMs?: number };
  /** A number in [0, 1) for the jitter (tests pass a fixed one). */
  random?: () => number;
}

/** The defaults an admin sees in the README. */
export const idleDefaults = {
  debounceMs: 200,
  // RFC 2177 §3: a server may log off a client idle for 30 minutes; re-issue well before 29.
  idleRestartMs: 25 * 60_000,
  // Dovecot says "* OK Still here" every 2 minutes; a link that went silent (no FIN) is found
  // within two of these.
  keepaliveMs: 2 * 60_000,
  firstBackoffMs: 1000,
  maxBackoffMs: 5 * 60_000,
  // A connection that stayed up this long starts the back-off again from its first step; one
  // that keeps dropping sooner (a flapping server) goes on doubling.
  stableMs: 60_000,
  // stop() waits at most this long for the connection to close.
  stopGraceMs: 1000,
} as const;

// Answers on the IDLE connection are small: the SELECT's flags, EXISTS/EXPUNGE/FETCH FLAGS
// lines. Nothing here asks for a message, so a large literal or line is refused outright.
const maxLiteralBytes = 1024 * 1024;
const maxLineBytes = 1024 * 1024;
// IDLE that ends at once this many times in a row on a usable connection is not working:
// reconnect (with back-off) rather than spin.
const maxQuickIdleEnds = 5;
/** onNewMail at most this often. */
const minAnnounceGapMs = 1000;
// A second, not 50 ms: a server ending each IDLE after 60 ms got IDLE sent 16 times a second for ever.
const quickIdleEndMs = 1000;

/**
 * Push for one IMAP account: its own connection, the folder opened read-only (EXAMINE, so
 * nothing is marked), and IDLE (RFC 2177). New mail (an EXISTS that grows the count) calls
 * `onNewMail`, debounced; the daemon's poll then takes it, so the regular poll and the sweep
 * stay the safety net. IDLE is re-issued every `idleRestartMs`. A server without IDLE in its
 * CAPABILITY makes the state "unsupported" (logged once) and the watcher does nothing more.
 * A lost connection is logged once per outage and reconnected with back-off (1 s, 2 s, 4 s …
 * up to 5 minutes, less up to 20% jitter); every connection made calls `onNewMail` once.
 * Every step has a deadline: connect and greeting `timeoutMs` each, login within
 * 2 × `timeoutMs`, the EXAMINE within `timeoutMs`. An OAuth token is asked for on every
 * connection (the provider refreshes it when near expiry); one the server refused is
 * invalidated, so the next attempt gets a new one.
 */
export class ImapIdleWatcher {
  readonly #account: InboundAccount;
  readonly #options: ImapIdleWatcherOptions;
  readonly #clock: Clock;
  readonly #stopping = new AbortController();
  #tokens: TokenProvider | undefined;
  #status: IdleWatcherStatus;
  #loop: Promise<void> | undefined;
  #client: ImapFlowType | undefined;
  #debounce: NodeJS.Timeout | undefined;
  /** When onNewMail was last called (ms since the epoch). */
  #lastAnnounced = 0;
  /** Why each connection ended, as imapflow reported it. */
  readonly #ended = new WeakMap<ImapFlowType, unknown>();

  constructor(account: InboundAccount, options: ImapIdleWatcherOptions) {
    this.#account = account;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#status = { state: 'connecting', since: this.#clock.now(), lastError: null };
  }

  /** The state now (a copy). */
  status(): IdleWatcherStatus {
    return { ...this.#status };
  }

  /** Starts watching in the background; a second call does nothing. */
  start(): void {
    if (this.#loop || this.#stopping.signal.aborted) return;
    this.#loop = this.#run().catch((error: unknown) => {
      // A bug, not a server's doing: said once, and the poll goes on without push.
      this.#options.log.error({ account: this.#account.table, error: (error as Error).message }, `IDLE on ${this.#account.table} stopped on an unexpected error; polling goes on`);
      this.#setState('stopped', (error as Error).message);
    });
  }

  /**
   * Stops at once: the connection (or the attempt to make one) is closed without a LOGOUT,
   * a pending back-off or debounce is cancelled. Resolves when the loop has ended, or after
   * 1 s at most (the socket is closed by then either way).
   */
  async stop(): Promise<void> {
    this.#stopping.abort();
    clearTimeout(this.#debounce);
    this.#client?.close();
    if (this.#loop) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.#loop, new Promise<void>((resolve) => { timer = setTimeout(resolve, idleDefaults.stopGraceMs); })]);
      clearTimeout(timer);
    }
    this.#setState('stopped', this.#status.lastError);
  }

  async #run(): Promise<void> {
    const table = this.#account.table;
    const log = this.#options.log;
    if (this.#account.protocol !== 'imap') {
      this.#setState('unsupported', `IDLE is an IMAP command; this account uses ${this.#account.protocol}`);
      return;
    }
    let failures = 0;
    let outageSince: number | undefined;
    while (!this.#stopped()) {
      this.#setState('connecting', this.#status.lastError);
      let connectedAt: number | undefined;
      let why: string;
      try {
        const client = await this.#open();
        if (!client) return;
        connectedAt = Date.now();
        if (outageSince !== undefined) {
          log.info({ account: table, downSeconds: Math.round((connectedAt - outageSince) / 1000) }, `IDLE on ${table} is connected again`);
          outageSince = undefined;
        }
        this.#setState('idle', null);
        // Mail may have come while there was no connection (or before the first): one poll finds it.
        this.#newMail();
        const ended = await this.#idleUntilClosed(client);
        if (ended === null) return;
        why = ended;
      } catch (error) {
        why = describe(error);
      } finally {
        this.#client = undefined;
      }
      if (this.#stopped()) return;
      if (connectedAt !== undefined && Date.now() - connectedAt >= idleDefaults.stableMs) failures = 0;
      if (outageSince === undefined) {
        outageSince = Date.now();
        const what = connectedAt === undefined ? 'could not connect' : 'lost its connection';
        log.warn({ account: table, error: why }, `IDLE on ${table} ${what} (${why}); reconnecting with back-off, and polling goes on meanwhile`);
      }
      this.#setState('backing-off', why);
      await this.#sleep(this.#backoffMs(failures++));
    }
  }

  /**
   * A new connection, logged in and with the folder opened read-only; undefined when the
   * server has no IDLE (the state is then "unsupported"). Throws when a step fails or takes
   * past its deadline, or when the watcher is stopped meanwhile.
   */
  async #open(): Promise<ImapFlowType | undefined> {
    const account = this.#account;
    const o = this.#options;
    this.#tokens ??= accountTokens(account, o);
    const connection = await this.#unlessStopped(mailboxConnectionOf(account, o, this.#tokens));
    const { ImapFlow } = await import('imapflow');
    const client = new ImapFlow({
      ...imapConnectOptions(connection),
      logger: false,
      disableAutoIdle: true,
      maxIdleTime: o.idleRestartMs ?? idleDefaults.idleRestartMs,
      socketTimeout: o.keepaliveMs ?? idleDefaults.keepaliveMs,
      maxLiteralSize: maxLiteralBytes,
      maxLineLength: maxLineBytes,
      maxResponseSize: maxLiteralBytes + maxLineBytes,
      maxResponseTokens: 100_000,
    } as ConstructorParameters<typeof ImapFlow>[0]);
    // Stopped while the token or the module was on its way: no socket is opened.
    if (this.#stopped()) throw new Error('stopped');
    this.#client = client;
    client.on('error', (error: unknown) => { if (!this.#ended.has(client)) this.#ended.set(client, error); });
    client.on('exists', (event: { count: number; prevCount: number }) => {
      // A count that shrinks is an expunge, not new mail.
      if (event.count > event.prevCount) this.#newMail();
    });
    try {
      await this.#deadline(client, 2 * o.timeoutMs, 'the greeting and login', () => client.connect());
    } catch (error) {
      // A token the server refused (revoked, or its user changed) is forgotten, so the next
      // attempt asks the provider for a new one instead of offering it again until it expires.
      if (this.#tokens?.invalidate && imapFailure(error, 'auth').detailCode === 'AUTHENTICATIONFAILED') await this.#tokens.invalidate().catch(() => undefined);
      throw error;
    }
    if (!client.capabilities.has('IDLE')) {
      const why = 'the server does not offer IDLE (RFC 2177) in its CAPABILITY';
      this.#setState('unsupported', why);
      o.log.info({ account: account.table }, `IDLE on ${account.table}: ${why}; new mail is found by polling`);
      client.close();
      return undefined;
    }
    await this.#deadline(client, o.timeoutMs, `opening "${account.folder}" read-only`, () => client.mailboxOpen(account.folder, { readOnly: true }));
    return client;
  }

  /**
   * IDLE on `client` until the connection ends; why it ended, or null when the server refused
   * IDLE (the state is then "unsupported"). imapflow re-issues IDLE every maxIdleTime itself;
   * IDLE broken for a keepalive NOOP is issued again here.
   */
  async #idleUntilClosed(client: ImapFlowType): Promise<string | null> {
    const closed = new Promise<void>((resolve) => {
      if (!client.usable) resolve();
      client.once('close', () => resolve());
    });
    let quickEnds = 0;
    while (!this.#stopped() && client.usable) {
      const startedAt = Date.now();
      // IDLE ends by itself every idleRestartMs (imapflow sends DONE); a server that never answers the
      // DONE while it keeps talking would hold it for ever, with no new mail announced after it.
      let stuckTimer: NodeJS.Timeout | undefined;
      const stuck = new Promise<'stuck'>((resolve) => {
        stuckTimer = setTimeout(() => resolve('stuck'), (this.#options.idleRestartMs ?? idleDefaults.idleRestartMs) + this.#options.timeoutMs);
      });
      const result = await Promise.race([client.idle({ whenFree: true }).catch(() => false as const), closed.then(() => undefined), stuck]).finally(() => clearTimeout(stuckTimer));
      if (result === 'stuck') {
        if (!this.#ended.has(client)) this.#ended.set(client, new Error('the server did not end IDLE when asked (no answer to DONE)'));
        client.close();
        break;
      }
      if (!client.usable) break;
      if ((client as unknown as { skipIdle?: boolean }).skipIdle) {
        // It offered IDLE and then refused it (NO/BAD): as if it had none.
        const why = 'the server offers IDLE but refused it';
        this.#setState('unsupported', why);
        this.#options.log.info({ account: this.#account.table }, `IDLE on ${this.#account.table}: ${why}; new mail is found by polling`);
        client.close();
        return null;
      }
      quickEnds = Date.now() - startedAt < quickIdleEndMs ? quickEnds + 1 : 0;
      if (result === false || !client.mailbox || quickEnds >= maxQuickIdleEnds) {
        if (!this.#ended.has(client)) this.#ended.set(client, new Error(!client.mailbox ? `the folder "${this.#account.folder}" was closed by the server` : 'IDLE kept ending at once'));
        client.close();
      }
    }
    await closed;
    const error = this.#ended.get(client);
    const bye = (client as unknown as { byeReason?: string }).byeReason;
    if (bye) return `the server said: ${bye}`;
    return error ? describe(error) : 'the server closed the connection';
  }

  /**
   * Calls onNewMail once for announcements within the debounce window, and at most once a second:
   * a server announcing new mail thousands of times a second costs one poll a second, not a storm.
   */
  #newMail(): void {
    if (this.#debounce || this.#stopped()) return;
    const wait = Math.max(this.#options.debounceMs ?? idleDefaults.debounceMs, this.#lastAnnounced + minAnnounceGapMs - Date.now());
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      if (this.#stopped()) return;
      this.#lastAnnounced = Date.now();
      try {
        this.#options.onNewMail();
      } catch (error) {
        this.#options.log.error({ account: this.#account.table, error: (error as Error).message }, `the new-mail handler of ${this.#account.table} failed`);
      }
    }, wait);
  }

  /** `work()` within `ms`; past it, or when stopped, the client is closed and this rejects. */
  async #deadline<T>(client: ImapFlowType, ms: number, what: string, work: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const pending = work();
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        client.close();
        reject(new Error(`the server did not finish ${what} within ${Math.round(ms / 100) / 10}s`));
      }, ms);
    });
    try {
      return await this.#unlessStopped(Promise.race([pending, expired]));
    } finally {
      clearTimeout(timer);
      pending.catch(() => undefined);
    }
  }

  /** `pending`, or a rejection as soon as the watcher is stopped. */
  #unlessStopped<T>(pending: Promise<T>): Promise<T> {
    const signal = this.#stopping.signal;
    if (signal.aborted) return Promise.reject(new Error('stopped'));
    pending.catch(() => undefined);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(new Error('stopped'));
      signal.addEventListener('abort', onAbort, { once: true });
      pending.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** Resolves after `ms`, or at once when stopped. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.#stopping.signal;
      if (signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** The n-th back-off (n from 0): first × 2^n up to max, less up to 20% jitter so accounts on one server do not reconnect in step. */
  #backoffMs(n: number): number {
    const first = this.#options.backoff?.firstMs ?? idleDefaults.firstBackoffMs;
    const max = this.#options.backoff?.maxMs ?? idleDefaults.maxBackoffMs;
    const base = Math.min(max, first * 2 ** Math.min(n, 30));
    return Math.round(base * (1 - 0.2 * (this.#options.random ?? Math.random)()));
  }

  #stopped(): boolean {
    return this.#stopping.signal.aborted;
  }

  #setState(state: IdleWatcherState, lastError: string | null): void {
    // "unsupported" and "stopped" are final: a late step of the loop does not undo them.
    if (this.#status.state === 'stopped' || (this.#status.state === 'unsupported' && state !== 'stopped')) return;
    if (state !== this.#status.state) this.#status = { state, since: this.#clock.now(), lastError };
    else this.#status.lastError = lastError;
  }
}

/** Why a step failed, in the server's words where it gave any. */
function describe(error: unknown): string {
  const failure = imapFailure(error, 'connect');
  const reason = (error as { reason?: unknown }).reason;
  return typeof reason === 'string' && reason ? `${failure.message}; the server said: ${reason}` : failure.message;
}
