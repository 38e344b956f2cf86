/**
 * The slowest a message may be taken after DATA before the transfer is cut: 64 KiB/s
 * (512 kbit/s). A 1 MB message gets --timeout + 16 s, a 25 MB one --timeout + 6.5 min.
 * In the spirit of Postfix's smtp_min_data_rate, with a floor a mail relay meets easily.
 */
export const minDataRateBytesPerSecond = 64 * 1024;

/** What ran out: a reply that did not come in time, or a message that was not taken in time. */
export interface SmtpDeadlineExpiry {
  /** The command whose reply was awaited ("EHLO", "MAIL FROM", "DATA"…), or "greeting". */
  command: string;
  /** True when the message itself (after DATA's 354) was being transferred. */
  transfer: boolean;
  message: string;
}

/**
 * Overall deadlines for an SMTP conversation, driven by nodemailer's transaction log.
 * nodemailer's socket timeout is an idle timeout: a server that answers one line of a
 * multi-line reply every few seconds never trips it, and holds the connection for as long as
 * it likes. Here every reply has a deadline from the moment its command was sent (--timeout,
 * whatever arrives meanwhile), and the message after DATA has one from its size: --timeout plus
 * the time it takes at `minDataRateBytesPerSecond`, the final reply included. A transfer that
 * keeps going at a reasonable rate is never cut.
 *
 * Commands are matched to replies in order (RFC 5321 §4.1: with PIPELINING too, replies come in
 * the order of the commands).
 */
export class SmtpDeadlines {
  readonly #timeoutMs: number;
  readonly #expire: (expiry: SmtpDeadlineExpiry) => void;
  /** Commands sent whose reply has not come, oldest first. */
  readonly #awaiting: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #messageSize = 0;
  #transferring = false;
  #stopped = false;

  constructor(timeoutMs: number, expire: (expiry: SmtpDeadlineExpiry) => void) {
    this.#timeoutMs = timeoutMs;
    this.#expire = expire;
  }

  /** The TCP (or TLS) connection is up: the greeting is awaited. */
  connected(): void {
    this.#awaiting.push('greeting');
    this.#arm();
  }

  /** The size in bytes of the message about to be sent (for the DATA transfer's deadline). */
  sending(size: number): void {
    this.#messageSize = size;
  }

  /** A command line went out (as nodemailer's transaction log shows it). */
  sent(line: string): void {
    this.#awaiting.push(commandName(line));
    if (!this.#transferring) this.#arm();
  }

  /** A whole reply came in (nodemailer logs a multi-line reply once, when it is complete). */
  replied(reply: string): void {
    if (this.#transferring) {
      // The final reply to the message: the transfer is over.
      this.#transferring = false;
    } else {
      const command = this.#awaiting.shift();
      if (command === 'DATA' && reply.startsWith('3')) {
        this.#transferring = true;
        const ms = this.#timeoutMs + Math.ceil((this.#messageSize / minDataRateBytesPerSecond) * 1000);
        this.#arm(ms, { command: 'DATA', transfer: true, message: `The server did not take the message (${this.#messageSize} bytes) and answer within ${seconds(ms)} (at least ${minDataRateBytesPerSecond / 1024} KiB/s after --timeout ${seconds(this.#timeoutMs)}).` });
        return;
      }
    }
    if (this.#awaiting.length > 0) this.#arm();
    else this.#disarm();
  }

  /** The conversation is over (closed, failed or aborted): no deadline fires any more. */
  stop(): void {
    this.#stopped = true;
    this.#disarm();
  }

  #arm(ms = this.#timeoutMs, expiry?: SmtpDeadlineExpiry): void {
    this.#disarm();
    if (this.#stopped) return;
    const what = expiry ?? (() => {
      const command = this.#awaiting[0] ?? 'reply';
      return { command, transfer: false, message: command === 'greeting' ? `No complete greeting from the server within ${seconds(ms)}.` : `No complete reply to ${command} within ${seconds(ms)} (the server answers too slowly).` };
    })();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.stop();
      this.#expire(what);
    }, ms);
  }

  #disarm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** "MAIL FROM:<a> SIZE=9" → "MAIL FROM"; "EHLO host" → "EHLO"; "AUTH PLAIN …" → "AUTH PLAIN". */
function commandName(line: string): string {
  const upper = line.trimStart().toUpperCase();
  if (upper.startsWith('MAIL FROM')) return 'MAIL FROM';
  if (upper.startsWith('RCPT TO')) return 'RCPT TO';
  if (upper.startsWith('AUTH ')) return upper.split(/\s+/).slice(0, 2).join(' ');
  // AUTH LOGIN's and XOAUTH2's follow-up lines are credentials ("/* secret */" in the log).
  const word = upper.split(/\s+/)[0] ?? '';
  return /^[A-Z]+$/.test(word) ? word : 'AUTH';
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
