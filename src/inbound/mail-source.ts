import type { Readable } from 'node:stream';
import type { SmtpSecurity } from '../outbound/smtp-session.js';
import type { AfterProcessing } from './inbound-config.js';

/** How to reach and log in to an IMAP or POP3 mailbox. */
export interface MailboxConnection {
  host: string;
  port: number;
  security: SmtpSecurity;
  tlsSkipVerify?: boolean | undefined;
  tlsCa?: string | undefined;
  user: string;
  /** A password, or an OAuth access token (XOAUTH2). */
  credential: { pass: string } | { accessToken: string };
  folder: string;
  afterProcessing: AfterProcessing;
  timeoutMs: number;
  /** max_message_size (bytes): never ask for more of one message than this (and a byte, to know it is over). */
  maxMessageBytes?: number | undefined;
}

/** What the server check saw: reachable, TLS, greeting, capabilities. */
export interface ServerCheck {
  greeting: string;
  tls: { protocol: string | null; authorized: boolean } | null;
  capabilities: string[];
}

/** What the account check saw: logged in, folder there, how many messages. */
export interface AccountCheck {
  folder: string;
  messages: number;
  unseen: number | null;
}

/** A message in the mailbox, before it is read. */
export interface MessageRef {
  /** Stable id in this mailbox: "imap:<uidvalidity>:<uid>", "pop3:<uidl>", "graph:<id>". */
  key: string;
  size: number;
  seen: boolean | null;
  /** When it arrived in the mailbox, when the source says (IMAP's INTERNALDATE); for the arrival-to-commit metric. */
  arrivedAt?: Date;
}

/**
 * What marking did other than what the account asks: messages the server could not move or
 * delete without touching other people's mail (no MOVE, no UIDPLUS), so they were flagged
 * \Deleted \Seen and left in the folder. Nothing here means the action was done as asked.
 */
export interface MarkResult {
  leftFlagged?: { count: number; reason: string };
}

export interface ListOptions {
  /** IMAP: the regular poll takes unseen mail only; the full sweep takes all. */
  unseenOnly: boolean;
  /** The periodic full sweep: Graph lists the whole folder (its delta started over). */
  sweep?: boolean;
  /**
   * Where a source that lists changes since its last listing (Graph's delta query) keeps its
   * place between polls; without it, such a source lists the whole folder every time.
   */
  changes?: ChangeListingState;
}

/** A message a change listing gave, not yet done (taken and marked): carried to the next listing. */
export interface CarriedMessage {
  key: string;
  /** When the server received it (ISO 8601), to take mail oldest first; null when not said. */
  receivedAt: string | null;
  seen: boolean | null;
}

/**
 * One account's place in a change listing (Graph's delta query), kept in the database.
 * `scope` names what the place is for (Graph URL, mailbox, folder): a place saved for another
 * scope is never used — load() answers as if none were saved, and the next save() replaces it
 * and drops the messages it carried.
 */
export interface ChangeListingState {
  /** The link to call next (a nextLink mid-round, or the round's deltaLink) and the messages carried. */
  load(scope: string): { link: string | null; carried: CarriedMessage[] };
  /**
   * After a listing: the link to call next poll (null: start over), the messages it listed
   * (carried from now on, until settled), and the keys it said left the folder (carried no more).
   */
  save(scope: string, link: string | null, listed: CarriedMessage[], removed: string[]): void;
  /** A carried message is done: marked as the account asks, or left as it is on purpose. */
  settle(key: string): void;
}

/**
 * One inbound mailbox, whatever the protocol. Messages are streamed: a source never
 * holds a whole large message in memory (IMAP holds small ones, up to 32 of at most 256 KB
 * each, fetched ahead of their turn).
 */
export interface MailSource {
  readonly protocol: 'imap' | 'pop3' | 'graph';
  /** Reachability without logging in: TLS handshake, greeting, capabilities. */
  verifyServer(): Promise<ServerCheck>;
  /** Logs in and checks the folder; changes nothing. */
  verifyAccount(): Promise<AccountCheck>;
  list(options: ListOptions): Promise<MessageRef[]>;
  /**
   * The raw RFC 5322 message as a stream. A failure of one message — open() throws, or its
   * stream errors — is an InboundFailure of phase "fetch" (messageFault when the server's answer
   * for it was a refusal or garbage, not a lost connection), and the source stays usable: the
   * next open() reconnects itself if it must. A failure to reach the server at all (login, the
   * folder) keeps its own phase and fails the poll.
   */
  open(ref: MessageRef): Promise<Readable>;
  /**
   * Marks a message done: mark read, move, delete, or nothing (per the account). A move or
   * delete the server refuses is an error (InboundFailure, phase "mark"), never a silent no-op.
   */
  markDone(ref: MessageRef): Promise<MarkResult | void>;
  /** Marks several messages done in one go; optional (IMAP: one command for all, not one each). */
  markDoneMany?(refs: MessageRef[]): Promise<MarkResult | void>;
  /** Whether a folder (the "move" destination) exists; absent where there are no folders (POP3). */
  folderExists?(name: string): Promise<boolean>;
  /** Creates a folder; an InboundFailure when the server refuses. Absent where it cannot. */
  createFolder?(name: string): Promise<void>;
  /**
   * The poll is done with a message it leaves in the mailbox untouched on purpose (one
   * quarantined under --after delete): a source that carries listed messages to the next poll
   * (Graph's delta) stops carrying it. Absent where nothing is carried.
   */
  leaveAsIs?(ref: MessageRef): void;
  close(): Promise<void>;
  /**
   * Drops the connection at once, without a polite LOGOUT/QUIT (which waits for a server that may
   * be hung): the daemon stopping, or the account changed or removed while it was polled.
   */
  abort?(): void;
}
