import type { Readable } from 'node:stream';
import { ExitCode, UserError } from '../errors.js';

/** A blob in the message store: the SHA-256 (hex) of its exact bytes, its size and its size on disk. */
export interface StoredBlob {
  hash: string;
  /** Bytes of the content itself. */
  size: number;
  /** Bytes it takes in the store (compressed), 0 when it was there already (deduplicated). */
  storedSize: number;
}

/** What the store holds: blobs and bytes on disk; `exact` false when it was estimated from a part of the store. */
export interface StoreUsage {
  blobs: number;
  /** Bytes on disk (allocated blocks, as du counts them). */
  bytes: number;
  exact: boolean;
}

/** What `list` yields: a blob on disk and when it was last written or touched. */
export interface StoredEntry {
  hash: string;
  storedSize: number;
  modifiedAt: Date;
}

/**
 * Puts that become durable together: nothing put is visible or durable until `commit`, which
 * syncs every blob at once (one round of fsyncs for a batch of messages, not one per message).
 * The caller commits the batch before it commits the rows that refer to its blobs, and commits
 * the rows before it marks the messages done in their mailbox.
 */
export interface StoreBatch {
  /**
   * Streams `content` in, hashing it on the way; the returned hash names it. When it fails
   * (StoreFullError, StoreReadOnlyError, StoreWriteError) it lets the content go: a stream is
   * destroyed, an iterator returned, so that nothing feeding it waits for it for ever.
   */
  put(content: Readable | Buffer | AsyncIterable<Buffer>): Promise<StoredBlob>;
  /**
   * Makes every blob put in this batch durable and readable. `reserve` is called with the
   * batch's hashes once their content is durable and before they are placed under their names
   * (see StoreReservations: gc must not delete a blob a writer is about to refer to). Throws
   * StoreFullError on ENOSPC.
   */
  commit(reserve?: (hashes: string[]) => void | Promise<void>): Promise<void>;
  /** Forgets the blobs of this batch not yet committed (their temporary files are removed). */
  discard(): Promise<void>;
}

/**
 * The message store: raw messages and attachments, content-addressed by SHA-256, compressed,
 * written durably (fsync) before anything refers to them. Small on purpose, so that a shared
 * backend (PostgreSQL, a later issue) can stand in for the filesystem one.
 */
export interface MessageStore {
  /** Where the store lives, for messages to the admin ("/var/lib/mailctl/messages"). */
  readonly location: string;
  batch(): StoreBatch;
  /**
   * The content, verified while it streams: the stream errors with StoredContentCorrupt when
   * the bytes do not hash to `hash`. Throws StoredContentMissing when there is no such blob.
   */
  open(hash: string): Promise<Readable>;
  has(hash: string): Promise<boolean>;
  /** The blob's size on disk and when it was last written or touched; undefined when it is not there. */
  stat(hash: string): Promise<StoredEntry | undefined>;
  /** Removes the blob; false when it was not there. */
  delete(hash: string): Promise<boolean>;
  /** Every blob in the store. */
  list(): AsyncIterable<StoredEntry>;
  /**
   * The filesystem the store is on, when the backend has one (bytes): its size, what is free
   * for mailctl (without blocks reserved for root), and what is used. How full it is, as df
   * counts it: used / (used + free).
   */
  filesystem?(): Promise<{ total: number; free: number; used: number }>;
  /**
   * How many blobs the store holds and their size on disk (every blob once: deduplicated, and
   * orphans too). Past `deadlineMs` (epoch ms) a backend may estimate (`exact: false`).
   */
  usage?(options?: { deadlineMs?: number }): Promise<StoreUsage>;
}

/** A communication refers to content that is not in the store. */
export class StoredContentMissing extends UserError {
  constructor(readonly hash: string, location: string) {
    super('E_STORE_MISSING', `The stored content ${hash} is missing from the message store (${location}).`, {
      fix: 'Restore the message store from a backup; mailctl doctor lists every communication affected.',
      command: 'mailctl doctor --only store',
      exitCode: ExitCode.store,
      details: { hash },
    });
  }
}

/** The stored bytes no longer hash to their name: the file was damaged or changed. */
export class StoredContentCorrupt extends UserError {
  /**
   * `actual` is the SHA-256 the bytes have, or "unreadable (why)" when they cannot even be
   * decompressed; `detail` says either in words ("it hashes to …", "it cannot be decompressed (…)").
   */
  readonly detail: string;

  constructor(readonly hash: string, readonly actual: string, location: string) {
    const detail = corruptionDetail(actual);
    super('E_STORE_CORRUPT', `The stored content ${hash} is corrupt: ${detail.replace(/^it hashes/, 'its bytes hash')} (${location}).`, {
      fix: 'Restore that file of the message store from a backup; mailctl doctor lists every communication affected.',
      command: 'mailctl doctor --only store',
      exitCode: ExitCode.store,
      details: { hash, actual },
    });
    this.detail = detail;
  }
}

/** What is wrong with a corrupt blob, in words: "it hashes to <sha256>", or "it cannot be decompressed (why)". */
export function corruptionDetail(actual: string): string {
  const unreadable = /^unreadable\b:?\s*(.*)$/s.exec(actual);
  if (unreadable) return `it cannot be decompressed${unreadable[1] ? ` ${unreadable[1]}` : ''}`;
  return `it hashes to ${actual}`;
}

/** The message store's filesystem has no room: the message is not taken, and is taken once there is. */
export class StoreFullError extends UserError {
  constructor(location: string, cause: unknown) {
    super('E_STORE_FULL', `The message store's disk is full (${location}): the message was not stored, so it stays in its mailbox and is taken once there is space.`, {
      fix: 'Free space on that filesystem, or purge old content (mailctl comms purge --older-than 1y).',
      command: 'mailctl comms purge --dry-run --older-than 365d',
      exitCode: ExitCode.store,
      cause,
    });
  }
}

/** The message store's filesystem is mounted read-only: nothing can be stored, so nothing is taken. */
export class StoreReadOnlyError extends UserError {
  constructor(location: string, cause: unknown) {
    super('E_STORE_READ_ONLY', `The message store's filesystem is read-only (${location}): the message was not stored, so it stays in its mailbox and is taken once the store can be written.`, {
      fix: `Remount that filesystem read-write (or point MAILCTL_HOME at a writable folder); nothing was written to ${location}.`,
      command: `findmnt -T ${location}`,
      exitCode: ExitCode.store,
      cause,
    });
  }
}

/** The system refused a write of the message store's files for another reason than space or a read-only mount (EIO: a failing disk). */
export class StoreWriteError extends UserError {
  constructor(location: string, cause: unknown) {
    const e = cause as NodeJS.ErrnoException;
    super('E_STORE_WRITE', `The message store could not be written (${location}): ${e.code} on ${e.syscall}${e.code === 'EIO' ? ' (an input/output error: the disk or its connection is failing)' : ''}; nothing was stored (mail being taken stays in its mailbox, and is taken once the store can be written).`, {
      fix: `Check the disk that holds ${location} (dmesg, smartctl -a); once it is sound, mailctl doctor --only store checks what is stored.`,
      command: 'mailctl doctor --only store',
      exitCode: ExitCode.store,
      cause,
      details: { errno: e.code, syscall: e.syscall },
    });
  }
}

/** True for a 64-character lower-case hex SHA-256: the only names the store takes. */
export function isBlobHash(text: string): boolean {
  return /^[0-9a-f]{64}$/.test(text);
}

/** The whole content of a blob, verified (for what must be in memory anyway, such as a message to send). */
export async function readStored(store: MessageStore, hash: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.open(hash)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
