import { Readable } from 'node:stream';
import type { ImapFlow as ImapFlowType } from 'imapflow';
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
// before their turn: one FETCH per message cost a round trip each. At most 4 MB is held ahead.
const aheadCount = 32;
const aheadBytes = 4 * 1024 * 1024;

/** An IMAP mailbox through imapflow. One connection, opened on first use. */
export class ImapSource implements MailSource {
  readonly protocol = 'imap' as const;
  readonly #options: ImapSourceOptions;
  #client: ImapFlowType | undefined;
  #uidValidity: string | undefined;
  /** The last list, in order, and where each key sits in it: what comes next. */
  #listed: MessageRef[] = [];
  #listedAt = new Map<string, number>();
  /** Whole small messages fetched ahead of their turn, by key. */
  #ahead = new Map<string, Buffer>();
  /** The last command error imapflow reported through its logger (its move/copy/store return false). */
  #refused: unknown;

  constructor(options: ImapSourceOptions) {
    this.#options = options;
  }

  verifyServer(): Promise<ServerCheck> {
    return probeServer({ protocol: 'imap', ...this.#options });
  }

  async verifyAccount(): Promise<AccountCheck> {
    const client = await this.#connect();
    const status = await this.#guard('folder', () => client.status(this.#options.folder, { messages: true, unseen: true }));
    if (!status) throw new InboundFailure('imap', 'folder', `The folder "${this.#options.folder}" does not exist in this mailbox.`, { detailCode: 'NONEXISTENT' });
    return { folder: this.#options.folder, messages: status.messages ?? 0, unseen: status.unseen ?? null };
  }

  async list(options: ListOptions): Promise<MessageRef[]> {
    const client = await this.#open();
    const refs: MessageRef[] = [];
    // Never a message someone flagged \Deleted (a colleague's, or ours left by a server without
    // UIDPLUS): it is on its way out, and ours would be marked again every sweep.
    const query = options.unseenOnly ? { seen: false, deleted: false } : { deleted: false };
    const uids = await this.#guard('list', () => client.search(query, { uid: true }));
    // imapflow answers a refused SEARCH with false: that is a failed poll, not an empty mailbox.
    if (!uids) throw new InboundFailure('imap', 'list', 'The server refused to SEARCH the folder: the poll could not list its messages.');
    if (uids.length === 0) return refs;
    for await (const message of client.fetch(uids, { uid: true, size: true, flags: true }, { uid: true })) {
      refs.push({ key: `imap:${this.#uidValidity}:${message.uid}`, size: message.size ?? 0, seen: message.flags?.has('\\Seen') ?? null });
    }
    this.#listed = refs;
    this.#listedAt = new Map(refs.map((ref, i) => [ref.key, i]));
    this.#ahead.clear();
    return refs;
  }

  async open(ref: MessageRef): Promise<Readable> {
    const client = await this.#open();
    const whole = this.#ahead.get(ref.key) ?? (fetchesAhead(ref) ? await this.#fetchAhead(client, ref) : undefined);
    this.#ahead.delete(ref.key);
    if (whole) return Readable.from(piecesOf(whole, parsePieceBytes), { objectMode: false });
    const download = await this.#guard('fetch', () => client.download(String(uidOf(ref)), undefined, { uid: true, chunkSize: downloadChunkBytes }));
    if (!download.content) throw new InboundFailure('imap', 'fetch', `Message ${ref.key} is no longer in the mailbox.`, { detailCode: 'GONE' });
    return Readable.from(inPieces(download.content, parsePieceBytes), { objectMode: false });
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
      const status = await client.status(name, { messages: true });
      if (status) return true;
    } catch (error) {
      const e = error as { code?: string; serverResponseCode?: string };
      if (e.code === 'NotFound' || e.serverResponseCode === 'NONEXISTENT') return false;
      throw imapFailure(error, 'folder');
    }
    throw new InboundFailure('imap', 'folder', `The server refused STATUS for the folder "${name}": whether it exists is unknown.`);
  }

  async createFolder(name: string): Promise<void> {
    const client = await this.#connect();
    const created = await this.#guard('folder', () => client.mailboxCreate(name));
    if (!created) throw new InboundFailure('imap', 'folder', `The server did not create the folder "${name}".`);
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    try {
      await client.logout();
    } catch {
      client.close();
    }
  }

  /** Connected, logged in, folder selected (read-write, for flags and moves). */
  async #open(): Promise<ImapFlowType> {
    const client = await this.#connect();
    if (!this.#uidValidity) {
      const mailbox = await this.#guard('folder', () => client.mailboxOpen(this.#options.folder));
      this.#uidValidity = String(mailbox.uidValidity);
    }
    return client;
  }

  /**
   * Fetches `ref` and the small unseen messages listed after it in one FETCH (BODY.PEEK[]:
   * nothing is marked); returns `ref`'s bytes, or nothing when it was not listed or not sent.
   * Seen mail (a sweep's) is left out: it is mostly mail taken before, which is never opened.
   */
  async #fetchAhead(client: ImapFlowType, ref: MessageRef): Promise<Buffer | undefined> {
    this.#ahead.clear();
    const from = this.#listedAt.get(ref.key);
    if (from === undefined) return undefined;
    const batch: number[] = [];
    let bytes = 0;
    for (let i = from; i < this.#listed.length && batch.length < aheadCount; i++) {
      const next = this.#listed[i]!;
      if (!fetchesAhead(next)) continue;
      if (bytes + next.size > aheadBytes) break;
      batch.push(uidOf(next));
      bytes += next.size;
    }
    await this.#guard('fetch', async () => {
      for await (const message of client.fetch(batch.join(','), { uid: true, source: true }, { uid: true })) {
        if (message.source) this.#ahead.set(`imap:${this.#uidValidity}:${message.uid}`, message.source);
      }
    });
    return this.#ahead.get(ref.key);
  }

  async #connect(): Promise<ImapFlowType> {
    if (this.#client?.usable) return this.#client;
    const { ImapFlow } = await import('imapflow');
    const o = this.#options;
    const client = new ImapFlow({
      host: o.host,
      port: o.port,
      secure: o.security === 'tls',
      doSTARTTLS: o.security === 'starttls' ? true : o.security === 'none' ? false : undefined,
      auth: { user: o.user, ...o.credential },
      tls: { rejectUnauthorized: !o.tlsSkipVerify, ...(o.tlsCa ? { ca: o.tlsCa } : {}) },
      // imapflow logs a refused command's error and returns false: keep it for the message.
      logger: {
        trace: () => undefined, debug: () => undefined, info: () => undefined, fatal: () => undefined,
        warn: (entry: { err?: unknown }) => { if (entry?.err) this.#refused = entry.err; },
        error: (entry: { err?: unknown }) => { if (entry?.err) this.#refused = entry.err; },
      },
      disableAutoIdle: true,
      connectionTimeout: o.timeoutMs,
      greetingTimeout: o.timeoutMs,
      socketTimeout: Math.max(o.timeoutMs, 60_000),
    } as ConstructorParameters<typeof ImapFlow>[0]);
    client.on('error', () => {
      // surfaced through the failing command
    });
    try {
      await client.connect();
    } catch (error) {
      throw imapFailure(error, 'auth');
    }
    this.#client = client;
    this.#uidValidity = undefined;
    this.#ahead.clear();
    return client;
  }

  /**
   * Runs an imapflow message command that answers a refusal with false (not an error), and
   * turns that into an InboundFailure carrying the server's words (caught by the logger).
   */
  async #command(count: number, what: string, work: () => Promise<unknown>): Promise<void> {
    this.#refused = undefined;
    const done = await this.#guard('mark', work);
    if (done) return;
    const refused = this.#refused as (Error & { response?: string; serverResponseCode?: string }) | undefined;
    const serverSaid = refused?.response || refused?.message;
    throw new InboundFailure('imap', 'mark', `The server refused to ${what} (${count} message(s))${serverSaid ? `: ${serverSaid}` : ''}`, { detailCode: refused?.serverResponseCode, serverSaid: serverSaid || undefined });
  }

  async #guard<T>(phase: InboundPhase, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw imapFailure(error, phase);
    }
  }
}

function fetchesAhead(ref: MessageRef): boolean {
  return ref.seen === false && ref.size > 0 && ref.size <= downloadChunkBytes;
}

/** A buffer as views of at most `size` bytes. */
function* piecesOf(whole: Buffer, size: number): Generator<Buffer> {
  for (let at = 0; at < whole.length; at += size) yield whole.subarray(at, at + size);
}

/** The stream's chunks cut to at most `size` bytes (views, not copies); its errors pass through. */
async function* inPieces(stream: Readable, size: number): AsyncGenerator<Buffer> {
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    for (let at = 0; at < chunk.length; at += size) yield chunk.subarray(at, at + size);
  }
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
