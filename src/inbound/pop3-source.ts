import type { Readable } from 'node:stream';
import { InboundFailure } from './inbound-failure.js';
import type { AccountCheck, ListOptions, MailboxConnection, MailSource, MessageRef, ServerCheck } from './mail-source.js';
import { Pop3Client } from './pop3-client.js';
import { probeServer } from './server-probe.js';

export type Pop3SourceOptions = MailboxConnection;

/**
 * A POP3 mailbox. POP3 has no read flag, so messages are told apart by UIDL (the daemon
 * remembers which it has taken); "delete" takes effect when the session ends with QUIT.
 *
 * One message's failure leaves the source usable: a RETR that fails part-way breaks the
 * connection (the client is `broken`), and the next call connects and logs in again, and lists
 * UIDLs again to find the message numbers of the new session. Deletions not yet committed by
 * a QUIT are lost with the old session; those messages are listed again on the next poll,
 * recognised as taken by their key, and deleted then.
 */
export class Pop3Source implements MailSource {
  readonly protocol = 'pop3' as const;
  readonly #options: Pop3SourceOptions;
  #client: Pop3Client | undefined;
  /** Message key → message number in the current session (see keyedListing). */
  #numbers = new Map<string, number>();
  /** Whether list() ran: a new session must list UIDLs again before it can RETR or DELE. */
  #listed = false;

  constructor(options: Pop3SourceOptions) {
    this.#options = options;
  }

  verifyServer(): Promise<ServerCheck> {
    return probeServer({ protocol: 'pop3', ...this.#options });
  }

  async verifyAccount(): Promise<AccountCheck> {
    this.#checkFolder();
    const client = await this.#connect();
    const { count } = await client.stat();
    return { folder: 'INBOX', messages: count, unseen: null };
  }

  async list(_options: ListOptions): Promise<MessageRef[]> {
    const client = await this.#connect();
    const ids = await client.uidl();
    const sizes = await client.list();
    this.#numbers = keyedListing(ids);
    this.#listed = true;
    return [...this.#numbers].map(([key, n]) => ({ key, size: sizes.get(n) ?? 0, seen: null }));
  }

  /**
   * The message as a stream. Its failures (here or while it streams) are InboundFailures of
   * phase "fetch" that name `ref.key`; reconnecting first fails with its own phase.
   */
  async open(ref: MessageRef): Promise<Readable> {
    const client = await this.#connect();
    return client.retrieve(this.#numberOf(ref), { listedSize: ref.size, label: ref.key, maxBytes: this.#options.maxMessageBytes !== undefined ? this.#options.maxMessageBytes + 1 : undefined });
  }

  async markDone(ref: MessageRef): Promise<void> {
    if (this.#options.afterProcessing !== 'delete') return;
    const client = await this.#connect();
    await client.delete(this.#numberOf(ref));
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await client?.quit().catch(() => undefined);
  }

  abort(): void {
    const client = this.#client;
    this.#client = undefined;
    client?.close();
  }

  #checkFolder(): void {
    if (this.#options.folder.toUpperCase() !== 'INBOX') {
      throw new InboundFailure('pop3', 'folder', `POP3 reaches only the INBOX, not "${this.#options.folder}".`, { detailCode: 'NONEXISTENT' });
    }
  }

  #numberOf(ref: MessageRef): number {
    const n = this.#numbers.get(ref.key);
    if (n === undefined) throw new InboundFailure('pop3', 'fetch', `Message ${ref.key} is not in this POP3 session's listing.`, { detailCode: 'GONE', messageFault: true });
    return n;
  }

  async #connect(): Promise<Pop3Client> {
    if (this.#client && !this.#client.broken) return this.#client;
    const again = this.#client !== undefined;
    this.#client?.close();
    this.#client = undefined;
    const o = this.#options;
    const client = await Pop3Client.connect({ host: o.host, port: o.port, tls: o.security === 'tls', starttls: o.security === 'starttls', tlsSkipVerify: o.tlsSkipVerify, tlsCa: o.tlsCa, timeoutMs: o.timeoutMs });
    try {
      await client.login(o.user, o.credential);
    } catch (error) {
      client.close();
      throw error;
    }
    if (again && this.#listed) {
      // Message numbers belong to a session: the new one's come from its own UIDL.
      const ids = await client.uidl().catch((error: unknown) => {
        client.close();
        throw error;
      });
      this.#numbers = keyedListing(ids);
    }
    this.#client = client;
    return client;
  }
}

/**
 * A UIDL listing (message number → UIDL) as message keys → numbers, in listing order. A UIDL
 * should be unique in a maildrop (RFC 1939 §7), but some servers repeat one: those are different
 * messages (POP3 addresses messages by number), so the second and later get the key
 * "pop3:<uidl> dup<k>" (k = 2, 3...) and each is taken. A UIDL has no space (0x21-0x7E), so no
 * real UIDL makes such a key.
 */
export function keyedListing(ids: Map<number, string>): Map<string, number> {
  const numbers = new Map<string, number>();
  const seen = new Map<string, number>();
  for (const [n, id] of ids) {
    const k = (seen.get(id) ?? 0) + 1;
    seen.set(id, k);
    numbers.set(k === 1 ? `pop3:${id}` : `pop3:${id} dup${k}`, n);
  }
  return numbers;
}
