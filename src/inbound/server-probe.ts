import { InboundFailure } from './inbound-failure.js';
import { LineSocket, LineSocketError, type LineSocketOptions } from './line-socket.js';
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
      const reply = await readReply(socket, target.protocol, 'S1');
      if (!reply.ok) throw new InboundFailure(target.protocol, 'tls', `STARTTLS is required for this account, but the server refused it: ${reply.last}`, { serverSaid: reply.last, detailCode: 'STARTTLS_UNAVAILABLE' });
      await socket.startTls();
    }
    phase = 'list';
    socket.write(target.protocol === 'imap' ? 'S2 CAPABILITY' : 'CAPA');
    const caps = await readReply(socket, target.protocol, 'S2', true);
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

/** Reads an IMAP tagged reply (with untagged lines before it) or a POP3 +OK/-ERR (multi-line when asked). */
async function readReply(socket: LineSocket, protocol: 'imap' | 'pop3', tag: string, multiline = false): Promise<{ ok: boolean; lines: string[]; last: string }> {
  const lines: string[] = [];
  for (;;) {
    const line = await socket.readText();
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
