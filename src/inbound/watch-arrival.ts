import { once } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { boundedText } from '../mime/bounded-text.js';
import { decodeHeaderValue, parseHeaderBlock } from '../mime/header-block.js';
import type { StoreBatch, StoredBlob } from '../store/message-store.js';
import { resolveSender } from './message-sender.js';
import { HeaderCapture } from './parse-message.js';

/** What arrived of a message, whether or not taking it succeeded. */
export interface Arrival {
  /** Bytes read from the source so far. */
  bytes(): number;
  /** Its header section as far as it arrived (at most 64 KB), or '' when nothing did. */
  headerBlock(): string;
  /** The error the source's stream failed with, if it did (takeMessage keeps only its words). */
  error(): unknown;
  /**
   * The copy of every byte that arrived, put into the store batch (only when `keepCopy`):
   * resolves once the stream has ended or failed, with the bytes up to there.
   */
  copy(): Promise<StoredBlob | null>;
}

const headerCap = 64 * 1024;

/**
 * Watches a message's stream on its way to the parser: counts its bytes, keeps its header
 * section (so a failure can name the message by subject and sender), and with `keepCopy` also
 * puts every byte into `batch`, ended (not destroyed) when the stream fails, so that what
 * arrived before a failure is kept for the quarantined message. The stream's errors pass on.
 */
export function watchArrival(source: Readable, options: { batch: StoreBatch; keepCopy: boolean }): { stream: Readable; arrival: Arrival } {
  const head = new HeaderCapture(headerCap);
  let bytes = 0;
  let failed: unknown;
  const sink = options.keepCopy ? new PassThrough() : null;
  const copied = sink ? options.batch.put(sink) : Promise.resolve(null);
  // Awaited through copy(); must not be unhandled meanwhile. A copy that cannot be stored (a
  // full disk) is given up; the message itself goes on, and its own put says why. Destroyed
  // here whatever the store did with it: left full, the message waited for its 'drain' for ever.
  copied.catch(() => sink?.destroy());
  sink?.on('error', () => undefined);
  async function* watched(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        head.add(chunk);
        if (sink && !sink.destroyed && !sink.write(chunk)) await drainedOrClosed(sink);
        yield chunk;
      }
    } catch (error) {
      failed = error;
      throw error;
    } finally {
      sink?.end();
    }
  }
  const headerBlock = () => boundedText(head.bytes().toString('latin1'), headerCap);
  return {
    stream: Readable.from(watched(), { objectMode: false }),
    arrival: {
      bytes: () => bytes,
      error: () => failed,
      headerBlock,
      copy: () => {
        sink?.end();
        return copied;
      },
    },
  };
}

/** Who a message is from and what it is about, as far as its header section says (to name it in errors). */
export function headerFacts(headerBlock: string): { subject: string | null; from: string | null } {
  if (!headerBlock) return { subject: null, from: null };
  const headers = parseHeaderBlock(headerBlock);
  const subject = headers.get('subject');
  return { subject: subject === undefined ? null : boundedText(decodeHeaderValue(subject), 200), from: resolveSender(headers, decodeHeaderValue).address };
}

/** Resolves on the stream's next 'drain' or 'close'; the listener that did not fire is removed. */
async function drainedOrClosed(stream: PassThrough): Promise<void> {
  const done = new AbortController();
  try {
    await Promise.race([once(stream, 'drain', { signal: done.signal }), once(stream, 'close', { signal: done.signal })]);
  } catch {
    // its error is the put's, seen through copy()
  } finally {
    done.abort();
  }
}
