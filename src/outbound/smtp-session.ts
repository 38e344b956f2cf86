import { format } from 'node:util';
import type { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type SMTPConnectionType from 'nodemailer/lib/smtp-connection';
import { SmtpDeadlines, type SmtpDeadlineExpiry } from './smtp-deadlines.js';
import { SmtpFailure } from './smtp-failure.js';
import type { SmtpPhase } from './smtp-phase.js';

export type SmtpSecurity = 'tls' | 'starttls' | 'none';

export type SmtpAuth =
  | { type: 'none' }
  | { type: 'password'; user: string; pass: string }
  | { type: 'xoauth2'; user: string; accessToken: string };

export interface SmtpTarget {
  host: string;
  port: number;
  security: SmtpSecurity;
  /** Accept an untrusted certificate: only when the admin turned it on for this server. */
  tlsSkipVerify?: boolean;
  /** Extra trusted CA certificates (PEM), e.g. a company CA. */
  tlsCa?: string;
  auth: SmtpAuth;
  /**
   * Applies to connecting, the greeting and each later reply, as a deadline from the moment
   * the command went out (not an idle timeout); the message after DATA has a deadline from its
   * size (SmtpDeadlines).
   */
  timeoutMs: number;
  /** Name sent with EHLO. */
  clientName?: string;
}

export interface SmtpMessage {
  from: string;
  to: string[];
  /** The message: its bytes, or a stream of them (a large message read from the store as it goes out). */
  raw: Buffer | Readable;
  /** Bytes; required with a stream (SIZE, and the deadline of the transfer). */
  size?: number;
}

/** Where a session may stop on purpose (test-send --quit-after). */
export type QuitAfter = 'connect' | 'tls' | 'auth' | 'recipient';

export interface SmtpSessionResult {
  /** The last phase that completed. */
  completed: SmtpPhase | 'sent';
  tls: { protocol: string | null; cipher: string | null; authorized: boolean } | null;
  /** The server's SIZE limit in bytes (0 when it advertises none). */
  serverMaxSize: number;
  extensions: string[];
  /** The server's final reply to the message ("250 2.0.0 Ok: queued as …"). */
  response?: string;
  accepted?: string[];
}

/** A line of the SMTP conversation: C: what we sent, S: what the server said, *: what happened. */
export type TranscriptSink = (line: string) => void;

const tlsCodes = /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|ERR_SSL|EPROTO|HOSTNAME|ALTNAME|DEPTH_ZERO|UNABLE_TO_GET_ISSUER/;

/** An open, logged-in SMTP connection that sends one message after another. */
export interface SmtpSession {
  info: SmtpSessionResult;
  send(message: SmtpMessage): Promise<{ response: string; accepted: string[] }>;
  /** MAIL FROM and RCPT TO, then RSET: the envelope is tested, nothing is delivered. */
  tryEnvelope(message: SmtpMessage): Promise<void>;
  close(): void;
}

/**
 * Connects (TCP, TLS or STARTTLS, greeting) and logs in, step by step, so a failure names
 * the phase it stopped at and carries the server's exact words. nodemailer's
 * SMTPConnection does the protocol; it already writes "/* secret *\/" for credentials in
 * its transaction log, and every secret we hold is redacted from the transcript again.
 * The session stays open for several messages (the daemon's queue) until closed.
 *
 * Every wait for the server has an overall deadline (SmtpDeadlines), and `signal` (a daemon
 * stopping) drops the connection at once: the step in progress fails with an SmtpFailure of
 * kind ETIMEDOUT or EABORT. A message whose transfer was cut may still have been delivered.
 */
export async function openSmtpSession(target: SmtpTarget, options: { transcript?: TranscriptSink; skipAuth?: boolean; signal?: AbortSignal } = {}): Promise<SmtpSession> {
  const { default: SMTPConnection } = await import('nodemailer/lib/smtp-connection');
  const secrets = secretsOf(target.auth);
  const say = (line: string) => options.transcript?.(redact(line, secrets));
  let tcpConnected = false;
  let greeted = false;
  // Every wait for the server has an overall deadline; when one passes, the step fails and the
  // connection is dropped (onDeadline, below).
  let onDeadline: (expiry: SmtpDeadlineExpiry) => void = () => undefined;
  const deadlines = new SmtpDeadlines(target.timeoutMs, (expiry) => onDeadline(expiry));
  const logger = makeLogger((tnx, text) => {
    if (tnx === 'server') {
      greeted = true;
      deadlines.replied(text);
      for (const line of text.split(/\r?\n/)) say(`S: ${line}`);
    } else if (tnx === 'client') {
      deadlines.sent(text);
      for (const line of text.split(/\r?\n/)) say(`C: ${line}`);
    } else if (/established to/.test(text)) {
      tcpConnected = true;
      deadlines.connected();
      say(`* ${text}`);
    } else if (/upgraded|STARTTLS/i.test(text)) {
      say(`* ${text}`);
    }
  });

  const connection: SMTPConnectionType = new SMTPConnection({
    host: target.host,
    port: target.port,
    secure: target.security === 'tls',
    requireTLS: target.security === 'starttls',
    ignoreTLS: target.security === 'none',
    name: target.clientName ?? 'mailctl.localhost',
    connectionTimeout: target.timeoutMs,
    dnsTimeout: target.timeoutMs,
    greetingTimeout: target.timeoutMs,
    socketTimeout: target.timeoutMs,
    socketCloseTimeout: 0,
    transactionLog: true, // also how we learn the greeting arrived (phase detection)
    logger,
    tls: { rejectUnauthorized: !target.tlsSkipVerify, ...(target.tlsCa ? { ca: target.tlsCa } : {}) },
  });
  const fail = (error: NodeJS.ErrnoException & { response?: string; responseCode?: number; command?: string; originalCode?: string }, during: 'connect' | 'auth' | 'send'): SmtpFailure => {
    const kind = String(error.code ?? 'ERROR');
    const detailCode = error.originalCode ?? (error.cause as NodeJS.ErrnoException | undefined)?.code;
    const phase = phaseOf(kind, detailCode, error.command, error.message, during, tcpConnected, greeted);
    say(`* failed during ${phase}: ${error.message}`);
    return new SmtpFailure(phase, error.message, { kind, detailCode, response: error.response, responseCode: error.responseCode || undefined, command: error.command });
  };
  // Connection-level failures arrive as 'error' events, not through the step callbacks:
  // the step in progress is rejected with them.
  let rejectStep: ((error: SmtpFailure) => void) | undefined;
  let during: 'connect' | 'auth' | 'send' = 'connect';
  connection.on('error', (error: Parameters<typeof fail>[0]) => rejectStep?.(fail(error, during)));
  const step = <T>(name: typeof during, run: (resolve: (value: T) => void, reject: (error: SmtpFailure) => void) => void) =>
    new Promise<T>((resolve, reject) => {
      during = name;
      rejectStep = (error) => {
        rejectStep = undefined;
        reject(error);
      };
      run((value) => {
        rejectStep = undefined;
        resolve(value);
      }, (error) => rejectStep?.(error));
    });
  let closed = false;
  // A stopping daemon: the connection is dropped whatever the server is doing.
  const onAbort = () => {
    const phase = during === 'send' ? 'after-data' : during === 'auth' ? 'auth' : greeted ? 'greeting' : 'connect';
    const reason = options.signal?.reason;
    dropWith(new SmtpFailure(phase, `the connection was dropped: ${reason instanceof Error ? reason.message : String(reason ?? 'aborted')}`, { kind: 'EABORT' }));
  };
  const close = () => {
    if (closed) return;
    closed = true;
    deadlines.stop();
    options.signal?.removeEventListener('abort', onAbort);
    try {
      connection.quit();
    } catch {
      // already closed
    }
    connection.close();
  };
  // Dropping the connection forgets nodemailer's callback for the step in progress: that step
  // is failed here, or it would wait forever.
  const dropWith = (failure: SmtpFailure) => {
    const reject = rejectStep;
    rejectStep = undefined;
    close();
    say(`* failed during ${failure.phase}: ${failure.message}`);
    reject?.(failure);
  };
  onDeadline = (expiry) => {
    const phase = expiry.transfer ? 'after-data' : phaseOf('ETIMEDOUT', undefined, expiry.command === 'greeting' ? 'CONN' : expiry.command, expiry.message, during, tcpConnected, greeted);
    dropWith(new SmtpFailure(phase, expiry.message, { kind: 'ETIMEDOUT', detailCode: 'DEADLINE', command: expiry.command }));
  };
  const signal = options.signal;
  if (signal?.aborted) {
    close();
    throw new SmtpFailure('connect', 'not connected: the daemon is stopping', { kind: 'EABORT' });
  }
  signal?.addEventListener('abort', onAbort, { once: true });

  try {
    await step<void>('connect', (resolve, reject) => connection.connect((error) => (error ? reject(fail(error, 'connect')) : resolve())));
    const socket = (connection as unknown as { _socket?: TLSSocket })._socket;
    const tls = connection.secure && socket && typeof socket.getProtocol === 'function'
      ? { protocol: socket.getProtocol(), cipher: socket.getCipher()?.name ?? null, authorized: socket.authorized }
      : null;
    const internals = connection as unknown as { _supportedExtensions: string[]; _maxAllowedSize: number };
    const info: SmtpSessionResult = { completed: tls ? 'tls' : 'greeting', tls, serverMaxSize: internals._maxAllowedSize || 0, extensions: [...internals._supportedExtensions] };
    if (!options.skipAuth && target.auth.type !== 'none') {
      const { user } = target.auth;
      const auth = target.auth.type === 'password' ? { user, pass: target.auth.pass } : xoauth2Auth(user, target.auth.accessToken);
      await step<void>('auth', (resolve, reject) => connection.login(auth as never, (error) => (error ? reject(fail(error, 'auth')) : resolve())));
      info.completed = 'auth';
    }
    return {
      info,
      send: (message) =>
        step<{ response: string; accepted: string[] }>('send', (resolve, reject) => {
          const size = Buffer.isBuffer(message.raw) ? message.raw.length : message.size ?? 0;
          deadlines.sending(size);
          connection.send({ from: message.from, to: message.to, size } as never, message.raw, (error, sent) =>
            error ? reject(fail(error, 'send')) : resolve({ response: sent!.response, accepted: sent!.accepted }),
          );
        }),
      tryEnvelope: (message) =>
        step<void>('send', (resolve, reject) => {
          sendEnvelopeOnly(connection, message, (error) => fail(error, 'send')).then(resolve, reject);
        }),
      close,
    };
  } catch (error) {
    close();
    throw error;
  }
}

/** One SMTP conversation for test-send and the wizards: connect, log in, maybe one message, quit. */
export async function runSmtpSession(
  target: SmtpTarget,
  options: {
    message?: SmtpMessage;
    quitAfter?: QuitAfter;
    transcript?: TranscriptSink;
    /** Runs after login, before MAIL FROM: e.g. the server's SIZE limit against the message. */
    beforeSend?: (session: SmtpSessionResult) => void;
  } = {},
): Promise<SmtpSessionResult> {
  const quitEarly = options.quitAfter === 'connect' || options.quitAfter === 'tls';
  const session = await openSmtpSession(target, { ...(options.transcript ? { transcript: options.transcript } : {}), skipAuth: quitEarly });
  try {
    const result = session.info;
    if (quitEarly || options.quitAfter === 'auth' || !options.message) return result;
    options.beforeSend?.(result);
    if (options.quitAfter === 'recipient') {
      await session.tryEnvelope(options.message);
      return { ...result, completed: 'recipient' };
    }
    const info = await session.send(options.message);
    return { ...result, completed: 'sent', response: info.response, accepted: info.accepted };
  } finally {
    session.close();
  }
}

/** MAIL FROM + RCPT TO + RSET through the connection's own command path. */
async function sendEnvelopeOnly(
  connection: SMTPConnectionType,
  message: SmtpMessage,
  fail: (error: NodeJS.ErrnoException & { response?: string; command?: string }) => SmtpFailure,
): Promise<void> {
  const internal = connection as unknown as {
    _sendCommand(command: string): void;
    _responseActions: Array<(reply: string) => void>;
  };
  const ask = (command: string, what: string) =>
    new Promise<string>((resolve, reject) => {
      internal._responseActions.push((reply) => {
        if (reply.charAt(0) === '2') resolve(reply);
        else {
          const error = Object.assign(new Error(`${what} rejected: ${reply}`), { code: 'EENVELOPE', response: reply, responseCode: Number(reply.slice(0, 3)), command });
          reject(fail(error));
        }
      });
      internal._sendCommand(`${command}`);
    });
  await ask(`MAIL FROM:<${message.from}>`, 'Sender');
  for (const to of message.to) await ask(`RCPT TO:<${to}>`, 'Recipient');
  await ask('RSET', 'Reset');
}

/** The token source SMTPConnection asks for XOAUTH2: our token is already fresh. */
function xoauth2Auth(user: string, accessToken: string) {
  return {
    user,
    method: 'XOAUTH2',
    oauth2: {
      getToken: (_renew: boolean, callback: (error: Error | null, token?: string) => void) => callback(null, accessToken),
      buildXOAuth2Token: (token: string) => Buffer.from(`user=${user}\x01auth=Bearer ${token}\x01\x01`).toString('base64'),
    },
  };
}

function phaseOf(kind: string, detail: string | undefined, command: string | undefined, message: string, during: 'connect' | 'auth' | 'send', tcpConnected: boolean, greeted: boolean): SmtpPhase {
  if (during === 'auth' || kind === 'EAUTH') return 'auth';
  if (kind === 'EDNS') return 'connect';
  if (kind === 'ETLS' || (detail !== undefined && tlsCodes.test(detail))) return 'tls';
  if (during === 'connect') {
    if (!tcpConnected) return 'connect';
    if (!greeted) return 'greeting';
    if (command === 'CONN' && kind === 'EPROTOCOL') return 'greeting';
    return command === 'STARTTLS' ? 'tls' : 'greeting';
  }
  if (command === 'MAIL FROM') return message.startsWith('Message size larger') ? 'data' : 'sender';
  if (command === 'RCPT TO') return 'recipient';
  if (command === 'DATA') return kind === 'EMESSAGE' ? 'after-data' : 'data';
  return 'after-data';
}

function makeLogger(onLine: (tnx: string, text: string) => void) {
  const log = (entry: { tnx?: string } | undefined, template: string, ...args: unknown[]) => {
    onLine(entry?.tnx ?? '', format(template, ...args));
  };
  return { trace: log, debug: log, info: log, warn: log, error: log, fatal: log };
}

function secretsOf(auth: SmtpAuth): string[] {
  if (auth.type === 'password') return [auth.pass];
  if (auth.type === 'xoauth2') return [auth.accessToken];
  return [];
}

/** Removes every secret, and its base64 forms, from a transcript line. */
export function redact(line: string, secrets: readonly string[]): string {
  let out = line;
  for (const secret of secrets) {
    if (secret.length < 3) continue;
    for (const form of [secret, Buffer.from(secret).toString('base64')]) out = out.split(form).join('«hidden»');
  }
  // AUTH payloads carry credentials even when encoded together with the user name.
  return out.replace(/^(C: AUTH (?:PLAIN|XOAUTH2|LOGIN)) \S+$/i, '$1 «hidden»');
}
