import { createServer, type Server, type Socket } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

export interface ReceivedMessage {
  from: string;
  to: string[];
  raw: Buffer;
}

export interface SmtpSinkOptions {
  /** Listen on this port (to start a server again where it was); default: a free one. */
  port?: number;
  /** TLS from the first byte (port-465 style). */
  secure?: boolean;
  /** Offer STARTTLS (needs a cert). */
  starttls?: boolean;
  cert?: { cert: string; key: string };
  /** Require this login; undefined = no AUTH offered. */
  auth?: { user: string; pass: string; failWith?: string };
  /** Accept XOAUTH2 logins: decides whether the token is good (e.g. by introspection). */
  oauth?: (user: string, accessToken: string) => Promise<boolean>;
  /** Advertised SIZE limit. */
  size?: number;
  /** Reject MAIL FROM / RCPT TO / the message with this reply (e.g. "550 5.1.1 User unknown"). */
  rejectSender?: string;
  rejectRecipient?: string;
  rejectData?: string;
}

export interface SmtpSink {
  port: number;
  messages: ReceivedMessage[];
  /** How many SMTP connections were opened. */
  connections(): number;
  close(): Promise<void>;
}

function smtpError(reply: string): Error {
  const code = Number(reply.slice(0, 3));
  return Object.assign(new Error(reply.slice(4)), { responseCode: code });
}

/** A real SMTP server (the `smtp-server` package) on a free loopback port. */
export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const messages: ReceivedMessage[] = [];
  let connections = 0;
  const config: SMTPServerOptions = {
    onConnect(_session, callback) {
      connections++;
      callback();
    },
    secure: Boolean(options.secure),
    ...(options.cert ? { key: options.cert.key, cert: options.cert.cert } : {}),
    hideSTARTTLS: !options.starttls,
    disabledCommands: [...(options.auth || options.oauth ? [] : ['AUTH']), ...(options.starttls || options.secure ? [] : ['STARTTLS'])],
    authOptional: !options.auth && !options.oauth,
    ...(options.oauth ? { authMethods: ['XOAUTH2'] } : {}),
    allowInsecureAuth: true,
    logger: false,
    ...(options.size ? { size: options.size } : {}),
    onAuth(auth, _session, callback) {
      if (options.oauth && auth.method === 'XOAUTH2') {
        options.oauth(auth.username ?? '', auth.accessToken ?? '').then(
          (ok) => callback(null, ok ? { user: auth.username } : { data: { status: '401', schemes: 'bearer' } }),
          (error: Error) => callback(error),
        );
        return;
      }
      if (!options.auth) return callback(new Error('no auth here'));
      if (options.auth.failWith) return callback(smtpError(options.auth.failWith));
      if (auth.username === options.auth.user && auth.password === options.auth.pass) return callback(null, { user: auth.username });
      return callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onMailFrom(_address, _session, callback) {
      callback(options.rejectSender ? smtpError(options.rejectSender) : undefined);
    },
    onRcptTo(_address, _session, callback) {
      callback(options.rejectRecipient ? smtpError(options.rejectRecipient) : undefined);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (options.rejectData) return callback(smtpError(options.rejectData));
        messages.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks) });
        callback(null, 'Ok: queued as TEST' + messages.length);
      });
    },
  };
  const server = new SMTPServer(config);
  server.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject); // a taken port (a fixed one) fails instead of hanging
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const port = (server.server.address() as { port: number }).port;
  return { port, messages, connections: () => connections, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A TCP server that accepts connections and never says a word (a hung server). */
export async function startSilentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}
