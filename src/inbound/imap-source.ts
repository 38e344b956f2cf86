import { Readable } from 'node:stream';
import type { ImapFlow as ImapFlowType } from 'imapflow';
import { imapConnectOptions } from './imap-connect-options.js';
import { InboundFailure, type InboundPhase } from './inbound-failure.js';
import type { AccountCheck, ListOptions, MailboxConnection, MailSource, MarkResult, MessageRef, ServerCheck } from './mail-source.js';
import { probeServer } from './server-probe.js';

export interface ImapSourceOptions extends MailboxConnection {
  moveTo?: string | undefined;
}

// imapflow downloads a message in partial FETCHes of this size, one round trip each (64 KB by
// default): 256 KB takes most mail in one and bounds what is held at a time...
const downloadChunkBytes = 256 * 1024;
// ...but the parser gets it in pieces of 64 KB: the base64 decoder makes strings the size of
// its input chunks, and strings over V8's large-object size (128 KB) skip the young
// generation, so bigger chunks made the daemon's RSS climb by tens of MB.
const parsePieceBytes = 64 * 1024;
// Unseen messages no bigger than one chunk are fetched up to 32 to a FETCH, in list order, just
// before their turn: one FETCH per message cost a round trip each. At most 4 MB (as listed) is
// asked ahead, each message as a window of one chunk and a byte (BODY.PEEK[]<0.262145>): a
// message bigger than listed comes back cut, is not kept, and is streamed when its turn comes.
// So what is held ahead is bounded by what was asked, never by what the server lists or sends.
const aheadCount = 32;
const aheadBytes = 4 * 1024 * 1024;
// Every literal mailctl asks for is one such window. A literal far beyond it is no answer to
// what was asked (a server that lists 110 bytes and sends 300 MB): imapflow refuses it at its
// marker, before reading a byte of it, and drops the connection (LiteralTooLarge); that message
// fails, and the source reconnects for the next. 16 MB leaves room for a server that ignores
// windows and sends a whole message (imapflow takes that as the whole part).
const maxLiteralBytes = 16 * 1024 * 1024;
// A line without a literal: a SEARCH answer of about two million UIDs.
const maxLineBytes = 16 * 1024 * 1024;
// Every exchange has a deadline, not only an idle timeout (a server that trickles a byte every
// few seconds never trips one): --timeout, plus the bytes asked at this least rate, so a transfer
// that keeps a slow link busy is not cut (a 256 KB window gets 8 s more).
const minBytesPerSecond = 32 * 1024;
/** About how many bytes one message's line in the size listing takes (UID, size, flags, INTERNALDATE). */
const listingLineBytes = 112;

/** An IMAP mailbox through imapflow. One connection, opened on first use. */
export class ImapSource implements MailSource {
  readonly protocol = 'imap' as const;
  readonly #options: ImapSourceOptions;
  #client: ImapFlowType | undefined;
  #uidValidity: string | undefined;
  /** The last list, in order, and where each key sits in it: what comes next. */
  #listed: MessageRef[] = [];
  #listedAt = new Map<string, number>();
  /** The UIDVALIDITY the last list was made under: a reconnection must find the same. */
  #listedValidity: string | undefined;
  /** Whole small messages fetched ahead of their turn, by key. */
  #ahead = new Map<string, Buffer>();
  /** Messages whose fetch-ahead broke: each is fetched on its own when its turn comes. */
  #fetchAlone = new Set<string>();
  /** The last command error imapflow reported through its logger (its move/copy/store return false). */
  #refused: unknown;
  /** Why a connection ended, as imapflow reported it (LiteralTooLarge, a reset). */
  #connectionErrors = new WeakMap<ImapFlowType, unknown>();

  constructor(options: ImapSourceOptions) {
    this.#options = options;
  }

  verifyServer(): Promise<ServerCheck> {
    return probeServer({ protocol: 'imap', ...this.#options });
  }

  async verifyAccount(): Promise<AccountCheck> {
    const client = await this.#connect();
    const status = await this.#exchange('folder', `answering STATUS of "${this.#options.folder}"`, this.#timeoutMs(0), () => client.status(this.#options.folder, { messages: true, unseen: true }));
    if (!status) throw new InboundFailure('imap', 'folder', `The folder "${this.#options.folder}" does not exist in this mailbox.`, { detailCode: 'NONEXISTENT' });
    return { folder: this.#options.folder, messages: status.messages ?? 0, unseen: status.unseen ?? null };
  }

  async list(options: ListOptions): Promise<MessageRef[]> {
    this.#listedValidity = undefined;
    const client = await this.#open();
    const refs: MessageRef[] = [];
    // Never a message someone flagged \Deleted (a colleague's, or ours left by a server without
    // UIDPLUS): it is on its way out, and ours would be marked again every sweep.
    const query = options.unseenOnly ? { seen: false, deleted: false } : { deleted: false };
    const uids = await this.#exchange('list', 'answering SEARCH', this.#timeoutMs(0), () => client.search(query, { uid: true }));
    // imapflow answers a refused SEARCH with false: that is a failed poll, not an empty mailbox.
    if (!uids) throw new InboundFailure('imap', 'list', 'The server refused to SEARCH the folder: the poll could not list its messages.');
    this.#listed = [];
    this.#listedAt.clear();
    this.#ahead.clear();
    this.#fetchAlone.clear();
    if (uids.length === 0) return refs;
    await this.#exchange('list', `listing the sizes of ${uids.length} message(s)`, this.#timeoutMs(uids.length * listingLineBytes), async () => {
      for await (const message of client.fetch(uids, { uid: true, size: true, flags: true, internalDate: true }, { uid: true })) {
        const arrivedAt = message.internalDate ? new Date(message.internalDate) : undefined;
        refs.push({ key: `imap:${this.#uidValidity}:${message.uid}`, size: message.size ?? 0, seen: message.flags?.has('\\Seen') ?? null, ...(arrivedAt && !Number.isNaN(arrivedAt.getTime()) ? { arrivedAt } : {}) });
      }
    });
    this.#listed = refs;
    this.#listedAt = new Map(refs.map((ref, i) => [ref.key, i]));
    this.#listedValidity = this.#uidValidity;
    return refs;
  }

  /**
   * The message as a stream: from what was fetched ahead, else downloaded in windows of 256 KB.
   * A failure (the server refuses the message, breaks off, or takes past its deadline) is an
   * InboundFailure of phase "fetch", and the source stays usable: the next open() reconnects
   * when the connection is gone.
   */
  async open(ref: MessageRef): Promise<Readable> {
    let client = await this.#open();
    let whole = this.#ahead.get(ref.key);
    if (!whole && fetchesAhead(ref) && !this.#fetchAlone.has(ref.key)) whole = await this.#fetchAhead(client, ref);
    this.#ahead.delete(ref.key);
    if (whole) return Readable.from(piecesOf(whole, parsePieceBytes), { objectMode: false });
    // The fetch-ahead may have lost the connection (a broken answer): reconnect for this one.
    client = await this.#open();
    const windowMs = this.#timeoutMs(downloadChunkBytes);
    let download: Awaited<ReturnType<ImapFlowType['download']>>;
    try {
      download = await this.#exchange('fetch', 'sending a 256 KB window of the message', windowMs, () => client.download(String(uidOf(ref)), undefined, { uid: true, chunkSize: downloadChunkBytes, ...this.#byteLimit() }));
    } catch (error) {
      throw await this.#named(ref, error);
    }
    if (!download.content) throw new InboundFailure('imap', 'fetch', `Message ${ref.key} is no longer in the mailbox.`, { detailCode: 'GONE', messageFault: true });
    return Readable.from(this.#windows(client, download.content, ref, windowMs), { objectMode: false });
  }

  /**
   * A fetch failure of `ref` with the message's Subject, From, Date and Message-ID as the server
   * gives them on their own (BODY.PEEK[HEADER.FIELDS]), so that the failure and the quarantined
   * communication name it; the failure as it was when even that fails. A server that broke off
   * in the message and then, on a new connection, answers about that same message at once is
   * up and well: the break is the message's own (messageFault). Not so after a deadline: a slow
   * link sends a few header lines in time and still not a 256 KB window.
   */
  async #named(ref: MessageRef, error: unknown): Promise<unknown> {
    if (!(error instanceof InboundFailure) || error.phase !== 'fetch') return error;
    try {
      const client = await this.#open();
      const fields = await this.#withDeadline(client, this.#timeoutMs(0), () => client.fetchOne(String(uidOf(ref)), { uid: true, headers: ['subject', 'from', 'date', 'message-id'] }, { uid: true }));
      const headerBlock = fields && fields.headers ? fields.headers.subarray(0, 64 * 1024).toString('latin1') : '';
      if (!headerBlock) return error;
      const messageFault = error.messageFault || error.detailCode !== 'ETIMEDOUT';
      return new InboundFailure('imap', 'fetch', error.message, { detailCode: error.detailCode, serverSaid: error.serverSaid, messageFault, headerBlock });
    } catch {
      return error;
    }
  }

  markDone(ref: MessageRef): Promise<MarkResult> {
    return this.markDoneMany([ref]);
  }

  /**
   * Marks messages done with commands that touch only their UIDs. "move": UID MOVE; without
   * MOVE, UID COPY and then UID EXPUNGE of these UIDs (UIDPLUS). "delete": \Deleted, then UID
   * EXPUNGE. A bare EXPUNGE would also remove every message someone else flagged \Deleted, so
   * without UIDPLUS the messages are flagged \Deleted \Seen and left (reported in the result).
   * imapflow's messageMove/messageDelete fall back to a bare EXPUNGE, so they are used only when
   * the server advertises MOVE / UIDPLUS. A refused command is an InboundFailure (phase "mark").
   */
  async markDoneMany(refs: MessageRef[]): Promise<MarkResult> {
    if (refs.length === 0) return {};
    const client = await this.#open();
    const uid = refs.map(uidOf).join(',');
    const count = refs.length;
    const caps = client.capabilities;
    const { afterProcessing } = this.#options;
    const target = this.#options.moveTo ?? 'Processed';
    if (afterProcessing === 'mark-read') {
      await this.#command(count, 'mark them as read', () => client.messageFlagsAdd(uid, ['\\Seen'], { uid: true }));
      return {};
    }
    if (afterProcessing !== 'move' && afterProcessing !== 'delete') return {};
    if (afterProcessing === 'move') {
      if (caps.has('MOVE')) {
        await this.#command(count, `move them to "${target}"`, () => client.messageMove(uid, target, { uid: true }));
        return {};
      }
      await this.#command(count, `copy them to "${target}"`, () => client.messageCopy(uid, target, { uid: true }));
    }
    if (caps.has('UIDPLUS')) {
      // With UIDPLUS (checked above) imapflow's messageDelete sends STORE +FLAGS \Deleted, then UID EXPUNGE of these UIDs.
      await this.#command(count, afterProcessing === 'move' ? 'remove them from the folder after copying' : 'delete them', () => client.messageDelete(uid, { uid: true }));
      return {};
    }
    await this.#command(count, 'flag them \\Deleted', () => client.messageFlagsAdd(uid, ['\\Deleted', '\\Seen'], { uid: true }));
    const reason = afterProcessing === 'move'
      ? `the server has neither MOVE nor UIDPLUS: processed messages are copied to "${target}", then flagged \\Deleted \\Seen and left in ${this.#options.folder}`
      : `the server has no UIDPLUS: processed messages are flagged \\Deleted \\Seen and left in ${this.#options.folder}`;
    return { leftFlagged: { count, reason } };
  }

  /** Whether `name` exists (STATUS, so a namespace prefix applies as it does to MOVE/COPY). */
  async folderExists(name: string): Promise<boolean> {
    const client = await this.#connect();
    try {
      const status = await this.#withDeadline(client, this.#timeoutMs(0), () => client.status(name, { messages: true }));
      if (status) return true;
    } catch (error) {
      if (isDeadline(error)) throw new InboundFailure('imap', 'folder', deadlineMessage(`answering STATUS of "${name}"`, this.#timeoutMs(0)), { detailCode: 'ETIMEDOUT' });
      const e = error as { code?: string; serverResponseCode?: string };
      if (e.code === 'NotFound' || e.serverResponseCode === 'NONEXISTENT') return false;
      throw imapFailure(error, 'folder');
    }
    throw new InboundFailure('imap', 'folder', `The server refused STATUS for the folder "${name}": whether it exists is unknown.`);
  }

  async createFolder(name: string): Promise<void> {
    const client = await this.#connect();
    const created = await this.#exchange('folder', `creating "${name}"`, this.#timeoutMs(0), () => client.mailboxCreate(name));
    if (!created) throw new InboundFailure('imap', 'folder', `The server did not create the folder "${name}".`);
  }

  abort(): void {
    const client = this.#client;
    this.#client = undefined;
    client?.close();
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    try {
      await this.#withDeadline(client, this.#timeoutMs(0), () => client.logout());
    } catch {
      client.close();
    }
  }

  /**
   * Connected, logged in, folder selected (read-write, for flags and moves). After a
   * reconnection the folder must still have the UIDVALIDITY the last list was made under, or
   * the listed keys name other messages: then the poll fails and the next one lists again.
   */
  async #open(): Promise<ImapFlowType> {
    const client = await this.#connect();
    if (!this.#uidValidity) {
      // LIST, LSUB and SELECT: a few round trips.
      const mailbox = await this.#exchange('folder', `selecting "${this.#options.folder}"`, 2 * this.#timeoutMs(0), () => client.mailboxOpen(this.#options.folder));
      this.#uidValidity = String(mailbox.uidValidity);
      if (this.#listedValidity && this.#listedValidity !== this.#uidValidity) {
        this.#ahead.clear();
        throw new InboundFailure('imap', 'folder', `The UIDVALIDITY of "${this.#options.folder}" changed from ${this.#listedValidity} to ${this.#uidValidity} while it was read: the folder's messages are listed again at the next poll.`, { detailCode: 'UIDVALIDITY' });
      }
    }
    return client;
  }

  /**
   * Fetches `ref` and the small unseen messages listed after it in one FETCH (BODY.PEEK[]:
   * nothing is marked), each in a window of one chunk and a byte; returns `ref`'s bytes, or
   * nothing when it was not listed, not sent, or bigger than listed. Seen mail (a sweep's) is
   * left out: it is mostly mail taken before, which is never opened.
   *
   * One message's broken answer does not cost the others: when the FETCH fails, what arrived is
   * kept, and the first message asked for that did not arrive (most likely the one the server
   * broke off in) is fetched on its own at its turn; the ones after it are fetched ahead again.
   */
  async #fetchAhead(client: ImapFlowType, ref: MessageRef): Promise<Buffer | undefined> {
    this.#ahead.clear();
    const from = this.#listedAt.get(ref.key);
    if (from === undefined) return undefined;
    const batch = new Map<number, MessageRef>();
    let bytes = 0;
    for (let i = from; i < this.#listed.length && batch.size < aheadCount; i++) {
      const next = this.#listed[i]!;
      if (!fetchesAhead(next) || this.#fetchAlone.has(next.key)) continue;
      if (bytes + next.size > aheadBytes) break;
      batch.set(uidOf(next), next);
      bytes += next.size;
    }
    const window = downloadChunkBytes + 1;
    try {
      // The deadline counts the sizes listed: a server that sends more than it listed is cut sooner.
      await this.#exchange('fetch', `sending ${batch.size} message(s) fetched ahead`, this.#timeoutMs(bytes), async () => {
        for await (const message of client.fetch([...batch.keys()].join(','), { uid: true, source: { start: 0, maxLength: window } }, { uid: true })) {
          const asked = batch.get(message.uid);
          // Not asked for (the server sends what it likes), or not the size listed: not kept. Bigger
          // comes back cut at the window; smaller may be a server that sends short windows (it
          // listed 600 KB and sends at most 100 KB at a time): streamed at its turn, which checks.
          if (!asked || !message.source || message.source.length !== asked.size) continue;
          this.#ahead.set(asked.key, message.source);
        }
      });
    } catch {
      // When that is `ref` itself, open() fetches it alone at once, and fails with its own error.
      const culprit = [...batch.values()].find((r) => !this.#ahead.has(r.key));
      if (culprit) this.#fetchAlone.add(culprit.key);
    }
    return this.#ahead.get(ref.key);
  }

  /**
   * The download's chunks, cut to parser pieces, each window of 256 KB within its deadline:
   * past it the connection is closed (imapflow then ends the download) and the stream fails
   * with a deadline failure; any failure is the message's fetch failure. The chunks are taken
   * off the download as they come, from the start: imapflow asks for the next window as soon as
   * one is handed on, and a failure in that window destroys its stream with the window before
   * still in it — bytes that arrived, lost (they are kept when the message is given up on).
   */
  #windows(client: ImapFlowType, content: Readable, ref: MessageRef, windowMs: number): AsyncGenerator<Buffer> {
    const queue: Buffer[] = [];
    let queued = 0;
    /** Bytes of the message handed on so far. */
    let total = 0;
    let ended = false;
    let failed: unknown;
    let wake: (() => void) | undefined;
    const notify = () => {
      const waiting = wake;
      wake = undefined;
      waiting?.();
    };
    content.on('data', (chunk: Buffer) => {
      queue.push(chunk);
      queued += chunk.length;
      // At most about a window waits here: imapflow asks for no more until it is taken.
      if (queued >= downloadChunkBytes) content.pause();
      notify();
    });
    content.once('end', () => { ended = true; notify(); });
    content.once('error', (error: unknown) => { failed ??= error; notify(); });
    content.once('close', () => {
      if (!content.readableEnded) failed ??= new Error('the download ended before the message did');
      ended = true;
      notify();
    });
    const self = this;
    return (async function* () {
      try {
        for (;;) {
          const chunk = queue.shift();
          if (chunk) {
            queued -= chunk.length;
            total += chunk.length;
            if (queued < downloadChunkBytes) content.resume();
            for (let at = 0; at < chunk.length; at += parsePieceBytes) yield chunk.subarray(at, at + parsePieceBytes);
            continue;
          }
          if (failed !== undefined) throw self.#fetchFailure(client, failed, 'sending a 256 KB window of the message', windowMs);
          if (ended) {
            // imapflow ends at the first window shorter than asked: the end of the message only
            // when the bytes add up to the size listed. Else the rest is asked for (see #rest).
            if (total !== ref.size) yield* self.#rest(client, ref, total, windowMs);
            return;
          }
          try {
            await self.#withDeadline(client, windowMs, () => new Promise<void>((resolve) => { wake = resolve; }));
          } catch (error) {
            throw self.#fetchFailure(client, error, 'sending a 256 KB window of the message', windowMs);
          }
        }
      } finally {
        content.destroy();
      }
    })();
  }

  /**
   * The rest of a message whose download ended (a window shorter than asked) after `from` bytes,
   * not its listed size: a server may send fewer bytes than asked in a window and more are to
   * come (one that answers every BODY.PEEK[]<n.262144> with 100 KB), or list a size that is off
   * (Exchange's RFC822.SIZE is an estimate by default). So the next window is asked for, until
   * an empty answer (the message ends there) or a short window that makes the listed size. A
   * message that ends short of its listed size, or would pass twice its listed size and 1 MB,
   * is not the one listed: a fetch failure of its own (messageFault, see pollAccount), never
   * committed as complete nor deleted. One that ends past its listed size is taken.
   * Source: RFC 3501 §6.4.5 (a partial fetch past the end gives an empty string).
   */
  async *#rest(client: ImapFlowType, ref: MessageRef, from: number, windowMs: number): AsyncGenerator<Buffer> {
    const allowance = 2 * ref.size + 1024 * 1024;
    const what = 'sending the rest of the message (its windows came short of its listed size)';
    let total = from;
    for (;;) {
      let answer: Awaited<ReturnType<ImapFlowType['fetchOne']>>;
      try {
        answer = await this.#withDeadline(client, windowMs, () => client.fetchOne(String(uidOf(ref)), { uid: true, source: { start: total, maxLength: downloadChunkBytes } }, { uid: true }));
      } catch (error) {
        throw this.#fetchFailure(client, error, what, windowMs);
      }
      if (answer === false && !client.usable) throw this.#fetchFailure(client, new Error('the connection closed'), what, windowMs);
      const window = answer ? answer.source : undefined;
      if (!window || window.length === 0) {
        if (total >= ref.size) return;
        // Fewer bytes than listed, and no more to be had: taken whole, it would be stored cut
        // (and with --after delete, the original expunged).
        const why = answer === false ? `the server did not answer for the rest (${this.#refusedText() ?? 'no FETCH answer'})` : 'the server has no more of it';
        throw new InboundFailure('imap', 'fetch', `Message ${ref.key} is listed at ${ref.size} bytes; ${total} arrived and ${why}: it is not taken as complete.`, { detailCode: 'SHORT', messageFault: true });
      }
      total += window.length;
      if (total > allowance) {
        throw new InboundFailure('imap', 'fetch', `Message ${ref.key} is listed at ${ref.size} bytes and the server sent more than ${allowance}: not the message listed.`, { detailCode: 'SIZE', messageFault: true });
      }
      for (let at = 0; at < window.length; at += parsePieceBytes) yield window.subarray(at, at + parsePieceBytes);
      if (window.length < downloadChunkBytes && total === ref.size) return;
    }
  }

  #refusedText(): string | undefined {
    const refused = this.#refused as (Error & { response?: string }) | undefined;
    return refused?.response || refused?.message;
  }

  async #connect(): Promise<ImapFlowType> {
    if (this.#client?.usable) return this.#client;
    const { ImapFlow } = await import('imapflow');
    const o = this.#options;
    const client = new ImapFlow({
      ...imapConnectOptions(o),
      // imapflow logs a refused command's error and returns false: keep it for the message.
      logger: {
        trace: () => undefined, debug: () => undefined, info: () => undefined, fatal: () => undefined,
        warn: (entry: { err?: unknown }) => { if (entry?.err) this.#refused = entry.err; },
        error: (entry: { err?: unknown }) => { if (entry?.err) this.#refused = entry.err; },
      },
      disableAutoIdle: true,
      socketTimeout: Math.max(o.timeoutMs, 60_000),
      maxLiteralSize: maxLiteralBytes,
      maxLineLength: maxLineBytes,
      // Above the literal cap, which it must leave room for (imapflow's note).
      maxResponseSize: maxLiteralBytes + maxLineBytes,
      // No answer mailctl asks for has more than a few dozen tokens; a token costs ~100 bytes of heap.
      maxResponseTokens: 100_000,
    } as ConstructorParameters<typeof ImapFlow>[0]);
    client.on('error', (error: unknown) => {
      // Surfaced through the failing command; kept to say why the connection ended.
      if (!this.#connectionErrors.has(client)) this.#connectionErrors.set(client, error);
    });
    // Greeting, CAPABILITY, LOGIN and what follows: a few round trips.
    const connectMs = 2 * this.#timeoutMs(0);
    try {
      await this.#withDeadline(client, connectMs, () => client.connect());
    } catch (error) {
      if (isDeadline(error)) throw new InboundFailure('imap', 'greeting', deadlineMessage('the greeting and login', connectMs), { detailCode: 'ETIMEDOUT' });
      throw imapFailure(error, 'auth');
    }
    this.#client = client;
    // A new session selects the folder again; what was fetched ahead stays good while the
    // UIDVALIDITY is the same (checked in #open).
    this.#uidValidity = undefined;
    return client;
  }

  /**
   * Runs an imapflow message command that answers a refusal with false (not an error), and
   * turns that into an InboundFailure carrying the server's words (caught by the logger).
   */
  async #command(count: number, what: string, work: () => Promise<unknown>): Promise<void> {
    this.#refused = undefined;
    const done = await this.#exchange('mark', `answering the command to ${what}`, 2 * this.#timeoutMs(0), work);
    if (done) return;
    const refused = this.#refused as (Error & { response?: string; serverResponseCode?: string }) | undefined;
    const serverSaid = refused?.response || refused?.message;
    throw new InboundFailure('imap', 'mark', `The server refused to ${what} (${count} message(s))${serverSaid ? `: ${serverSaid}` : ''}`, { detailCode: refused?.serverResponseCode, serverSaid: serverSaid || undefined });
  }

  /**
   * One exchange with the server, within `ms`: past it the connection is closed (the next use
   * reconnects) and the failure says which exchange took too long. Errors are InboundFailures
   * of `phase`; a fetch failure says whether it is the message's own (see #fetchFailure).
   */
  async #exchange<T>(phase: InboundPhase, what: string, ms: number, work: () => Promise<T>): Promise<T> {
    const client = this.#client;
    try {
      return client ? await this.#withDeadline(client, ms, work) : await work();
    } catch (error) {
      if (phase === 'fetch' && client) throw this.#fetchFailure(client, error, what, ms);
      if (isDeadline(error)) throw new InboundFailure('imap', phase, deadlineMessage(what, ms), { detailCode: 'ETIMEDOUT' });
      throw imapFailure(error, phase);
    }
  }

  /** `work()`, or a DeadlineExpired after `ms` with `client` closed (its commands then fail too). */
  async #withDeadline<T>(client: ImapFlowType, ms: number, work: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const pending = work();
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        client.close();
        reject(new DeadlineExpired());
      }, ms);
    });
    try {
      return await Promise.race([pending, expired]);
    } finally {
      clearTimeout(timer);
      // Settles after the close: not an unhandled rejection.
      pending.catch(() => undefined);
    }
  }

  /**
   * A failed fetch as an InboundFailure of phase "fetch". It is the message's own fault
   * (messageFault) when the server answered for it with something refused or impossible — a
   * literal over the cap, a line or answer too long, a NO for it with the connection still up —
   * and not when the connection was lost or the deadline passed (the server's or the network's).
   */
  #fetchFailure(client: ImapFlowType, error: unknown, what: string, ms: number): InboundFailure {
    if (error instanceof InboundFailure) return error;
    if (isDeadline(error)) return new InboundFailure('imap', 'fetch', deadlineMessage(what, ms), { detailCode: 'ETIMEDOUT' });
    const cause = this.#connectionErrors.get(client) as (Error & { code?: string }) | undefined;
    if (cause?.code && answerTooLarge.has(cause.code)) {
      return new InboundFailure('imap', 'fetch', `The server answered with more than was asked (${cause.message}; mailctl asks for at most ${downloadChunkBytes + 1} bytes at a time): the connection was dropped without reading it.`, { detailCode: cause.code, messageFault: true });
    }
    const failure = imapFailure(error, 'fetch');
    if (client.usable && failure.serverSaid !== undefined) {
      return new InboundFailure('imap', 'fetch', `The server refused to send the message: ${failure.serverSaid}`, { detailCode: failure.detailCode, serverSaid: failure.serverSaid, messageFault: true });
    }
    // A server that ends the session says why in its BYE (Dovecot: "Internal error occurred").
    const bye = (error as { reason?: unknown }).reason;
    const why = typeof bye === 'string' && bye ? `${failure.message}; the server said: ${bye}`
      : cause instanceof Error && cause.message !== failure.message ? `${failure.message}: ${cause.message}` : failure.message;
    return new InboundFailure('imap', 'fetch', `The connection was lost while the message was being fetched (${why}).`, { detailCode: failure.detailCode, serverSaid: typeof bye === 'string' && bye ? bye : failure.serverSaid });
  }

  /** --timeout, plus the time `bytes` take at the least rate a transfer must keep. */
  /**
   * imapflow's own byte limit for one download: max_message_size and a byte (so that takeMessage
   * sees the message is over it), whatever RFC822.SIZE says. Without it a server that lists
   * 10^12 bytes, or no size, has every 256 KB window asked for and filled, for ever.
   */
  #byteLimit(): { maxBytes?: number } {
    return this.#options.maxMessageBytes ? { maxBytes: this.#options.maxMessageBytes + 1 } : {};
  }

  #timeoutMs(bytes: number): number {
    return this.#options.timeoutMs + Math.ceil((bytes / minBytesPerSecond) * 1000);
  }
}

/** imapflow's codes for an answer over its caps (it drops the connection without reading on). */
const answerTooLarge = new Set(['LiteralTooLarge', 'ResponseTooLarge', 'LineTooLarge', 'TooManyTokens']);

/** An exchange's deadline passed. */
class DeadlineExpired extends Error {
  override readonly name = 'DeadlineExpired';
}

function isDeadline(error: unknown): boolean {
  return error instanceof DeadlineExpired;
}

function deadlineMessage(what: string, ms: number): string {
  return `The IMAP server did not finish ${what} within ${Math.round(ms / 100) / 10}s (the connection was closed)`;
}

function fetchesAhead(ref: MessageRef): boolean {
  return ref.seen === false && ref.size > 0 && ref.size <= downloadChunkBytes;
}

/** A buffer as views of at most `size` bytes. */
function* piecesOf(whole: Buffer, size: number): Generator<Buffer> {
  for (let at = 0; at < whole.length; at += size) yield whole.subarray(at, at + size);
}

function uidOf(ref: MessageRef): number {
  return Number(ref.key.split(':')[2]);
}

const tlsCodes = /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|ERR_SSL|EPROTO|ALTNAME/;

/** imapflow's errors → an inbound failure with the phase and the server's words. */
export function imapFailure(error: unknown, phase: InboundPhase): InboundFailure {
  if (error instanceof InboundFailure) return error;
  const e = error as Error & { code?: string; authenticationFailed?: boolean; responseText?: string; serverResponseCode?: string; response?: string; responseStatus?: string };
  const serverSaid = e.responseText ?? e.response;
  if (e.authenticationFailed || e.serverResponseCode === 'AUTHENTICATIONFAILED') {
    return new InboundFailure('imap', 'auth', `The IMAP server refused the login: ${serverSaid ?? e.message}`, { detailCode: 'AUTHENTICATIONFAILED', serverSaid });
  }
  const code = e.code;
  if (code && tlsCodes.test(code)) return new InboundFailure('imap', 'tls', e.message, { detailCode: code });
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return new InboundFailure('imap', 'connect', e.message, { detailCode: code });
  if (code === 'ETIMEDOUT' || code === 'CONNECT_TIMEOUT') return new InboundFailure('imap', 'connect', e.message, { detailCode: 'ETIMEDOUT' });
  if (code === 'GREETING_TIMEOUT') return new InboundFailure('imap', 'greeting', e.message, { detailCode: 'ETIMEDOUT' });
  if (e.serverResponseCode === 'NONEXISTENT' || /doesn't exist|does not exist|NONEXISTENT|Mailbox not found/i.test(`${serverSaid ?? ''} ${e.message}`)) {
    return new InboundFailure('imap', 'folder', `The folder does not exist: ${serverSaid ?? e.message}`, { detailCode: 'NONEXISTENT', serverSaid });
  }
  return new InboundFailure('imap', phase, serverSaid ? `${e.message}: ${serverSaid}` : e.message, { detailCode: code ?? e.serverResponseCode, serverSaid });
}
