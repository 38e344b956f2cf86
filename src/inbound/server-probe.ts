import { InboundFailure } from './inbound-failure.js';
import { LineSocket, LineSocketError, type LineSocketOptions } from './line-socket.js';
import { ReplyTimer } from './reply-timer.js';
import type { ServerCheck } from './mail-source.js';
import type { SmtpSecurity } from '../outbound/smtp-session.js';

export interface ProbeTarget {
  protocol: 'imap' | 'pop3';
  host: string;
  port: number;
  security: SmtpSecurity;
  tlsSkipVerify?: boolean | undefined;
  tlsCa?: string | undefined;
  timeoutMs: number;
}

/** Turns a socket problem into an inbound failure with the right phase. */
export function socketFailure(protocol: 'imap' | 'pop3', error: unknown, fallback: 'greeting' | 'auth' | 'fetch' | 'list' | 'mark'): InboundFailure {
  if (error instanceof InboundFailure) return error;
  if (error instanceof LineSocketError) {
    const phase = error.stage === 'read' ? fallback : error.stage;
    return new InboundFailure(protocol, phase, error.message, { detailCode: error.code });
  }
  return new InboundFailure(protocol, fallback, (error as Error).message);
}

/**
 * The "Server" step: connect, TLS, greeting, STARTTLS when required, capabilities — and no
 * login. A plain IMAP/POP3 exchange, so it reports exactly where a server stops answering.
 */
export async function probeServer(target: ProbeTarget): Promise<ServerCheck> {
  const options: LineSocketOptions = { host: target.host, port: target.port, tls: target.security === 'tls', tlsSkipVerify: target.tlsSkipVerify, tlsCa: target.tlsCa, timeoutMs: target.timeoutMs };
  let socket: LineSocket | undefined;
  let phase: 'greeting' | 'tls' | 'list' = 'greeting';
  try {
    socket = await LineSocket.connect(options);
    const greeting = await socket.readText();
    const okGreeting = target.protocol === 'imap' ? /^\* (OK|PREAUTH)\b/i.test(greeting) : /^\+OK\b/.test(greeting);
    if (!okGreeting) {
      throw new InboundFailure(target.protocol, 'greeting', `the server's greeting is not ${target.protocol.toUpperCase()}: ${greeting}`, { serverSaid: greeting });
    }
    if (target.security === 'starttls') {
      phase = 'tls';
      const command = target.protocol === 'imap' ? 'S1 STARTTLS' : 'STLS';
      socket.write(command);
      const reply = await readReply(socket, target.protocol, 'S1', target.timeoutMs);
      if (!reply.ok) throw new InboundFailure(target.protocol, 'tls', `STARTTLS is required for this account, but the server refused it: ${reply.last}`, { serverSaid: reply.last, detailCode: 'STARTTLS_UNAVAILABLE' });
      await socket.startTls();
    }
    phase = 'list';
    socket.write(target.protocol === 'imap' ? 'S2 CAPABILITY' : 'CAPA');
    const caps = await readReply(socket, target.protocol, 'S2', target.timeoutMs, true);
    const capabilities = target.protocol === 'imap'
      ? caps.lines.filter((l) => /^\* CAPABILITY /i.test(l)).flatMap((l) => l.replace(/^\* CAPABILITY /i, '').split(' '))
      : caps.ok ? caps.lines.slice(1).filter((l) => l !== '.') : [];
    socket.write(target.protocol === 'imap' ? 'S3 LOGOUT' : 'QUIT');
    return { greeting, tls: socket.tlsInfo, capabilities };
  } catch (error) {
    throw socketFailure(target.protocol, error, phase === 'tls' ? 'greeting' : phase);
  } finally {
    socket?.close();
  }
}

/** The most lines a STARTTLS or capability answer may have (Dovecot's has 1–3; 200 is generous). */
export const maxProbeReplyLines = 200;

/**
 * Reads an IMAP tagged reply (with untagged lines before it) or a POP3 +OK/-ERR (multi-line
 * when asked): the whole reply within `timeoutMs` (one line after another each arriving in time
 * is no excuse: a server trickling capability lines would hold `test-inbound` for ever) and at
 * most `maxProbeReplyLines` lines (an endless CAPA answer would grow memory without bound).
 */
async function readReply(socket: LineSocket, protocol: 'imap' | 'pop3', tag: string, timeoutMs: number, multiline = false): Promise<{ ok: boolean; lines: string[]; last: string }> {
  const lines: string[] = [];
  const what = protocol === 'imap' ? `the answer to ${tag === 'S1' ? 'STARTTLS' : 'CAPABILITY'}` : `the answer to ${multiline ? 'CAPA' : 'STLS'}`;
  const timer = ReplyTimer.oneLine(what, timeoutMs);
  for (;;) {
    if (lines.length >= maxProbeReplyLines) {
      throw new InboundFailure(protocol, 'list', `the server's ${what} went on past ${maxProbeReplyLines} lines: not read further`, { detailCode: 'REPLY_TOO_LONG' });
    }
    const line = await socket.readText({ timer });
    lines.push(line);
    if (protocol === 'imap') {
      if (line.startsWith(`${tag} `)) return { ok: /^\S+ OK\b/i.test(line), lines, last: line };
    } else if (lines.length === 1 && (line.startsWith('-ERR') || !multiline)) {
      return { ok: line.startsWith('+OK'), lines, last: line };
    } else if (line === '.') {
      return { ok: true, lines, last: line };
    }
  }
}
