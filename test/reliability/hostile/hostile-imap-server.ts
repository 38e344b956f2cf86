import { createServer, type Server, type Socket } from 'node:net';

/**
 * How the server answers a request for a message's body (BODY[] or a partial BODY[]<n.m>):
 * - `break`: announces the literal, sends it up to byte `atByte` of the message (default: half
 *   of what was asked) and drops the connection;
 * - `huge`: announces and sends a literal of `bytes` (generated, never held), whatever was asked;
 * - `trickle`: sends the answer one line every `intervalMs`;
 * - `no`: answers the FETCH with a tagged NO, as a server does for a message it cannot read;
 * - `short`: answers each window with at most `maxBytes` of it (a server that caps partial FETCHes).
 * - `endless`: a message without end: every partial window asked for is filled (the message's
 *   bytes, then lines of x), so a client that trusts the windows asks for ever.
 */
export type BodyFault =
  | { kind: 'break'; atByte?: number }
  | { kind: 'huge'; bytes: number }
  | { kind: 'trickle'; intervalMs: number }
  | { kind: 'no' }
  | { kind: 'short'; maxBytes: number }
  | { kind: 'endless' };

export interface HostileMessage {
  uid: number;
  raw: Buffer;
  /** RFC822.SIZE as listed (default: the true size). */
  listedSize?: number;
  seen?: boolean;
  /** Flagged \Deleted by the client (a UID STORE +FLAGS \Deleted); no EXPUNGE here (no UIDPLUS). */
  deleted?: boolean;
  fault?: BodyFault;
}

export interface HostileImapServer {
  port: number;
  /** The mailbox, in UID order; push to deliver. Flags change as the client STOREs. */
  messages: HostileMessage[];
  /** Every command line received, in order (LOGIN's password included: a test server). */
  commands: string[];
  /** The body requests per UID: how often the client asked for each message's bytes. */
  bodyRequests: Map<number, number>;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/**
 * A hostile IMAP4rev1 server on a free loopback port, in this process: just enough IMAP for
 * imapflow (greeting, CAPABILITY, LOGIN, LIST, SELECT/EXAMINE, UID SEARCH, UID FETCH of sizes, flags,
 * bodies and header fields, UID STORE,
 * NOOP, LOGOUT), answering each message's body as its `fault` says. Commands it does not know
 * get a BAD and are kept in `commands`.
 */
export async function startHostileImapServer(options: { user: string; password: string; uidValidity?: number; messages?: HostileMessage[] }): Promise<HostileImapServer> {
  const messages = options.messages ?? [];
  const uidValidity = options.uidValidity ?? 1_700_000_001;
  const commands: string[] = [];
  const bodyRequests = new Map<number, number>();
  const sockets = new Set<Socket>();
  let accepted = 0;

  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.setNoDelay(true);
    let buffer = Buffer.alloc(0);
    let busy = false;
    let closed = false;
    socket.on('close', () => { closed = true; });
    const lines: string[] = [];
    const write = (text: string | Buffer) => {
      if (!closed) socket.write(text);
    };
    write('* OK [CAPABILITY IMAP4rev1] hostile test server ready\r\n');

    const drain = () => new Promise<void>((resolve) => {
      if (closed) return resolve();
      const done = () => { socket.off('drain', done); socket.off('close', done); resolve(); };
      socket.once('drain', done);
      socket.once('close', done);
    });
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

    /** Sends the body literal of `m` for a FETCH, as its fault says; false when the connection is gone. */
    const sendBody = async (m: HostileMessage, seq: number, items: string[]): Promise<boolean> => {
      bodyRequests.set(m.uid, (bodyRequests.get(m.uid) ?? 0) + 1);
      const partial = /BODY(?:\.PEEK)?\[\]<(\d+)\.(\d+)>/i.exec(items.join(' '));
      const start = partial ? Number(partial[1]) : 0;
      const section = partial ? `BODY[]<${start}>` : 'BODY[]';
      const extra = items.some((i) => /^RFC822\.SIZE$/i.test(i)) ? ` RFC822.SIZE ${m.listedSize ?? m.raw.length}` : '';
      const fault = m.fault;
      if (fault?.kind === 'huge') {
        write(`* ${seq} FETCH (UID ${m.uid}${extra} ${section} {${fault.bytes}}\r\n`);
        const line = Buffer.from(`${'x'.repeat(1022)}\r\n`);
        const block = Buffer.concat(Array.from({ length: 64 }, () => line));
        let sent = 0;
        while (sent < fault.bytes && !closed) {
          const piece = fault.bytes - sent >= block.length ? block : block.subarray(0, fault.bytes - sent);
          sent += piece.length;
          if (!socket.write(piece)) await drain();
        }
        write(')\r\n');
        return !closed;
      }
      if (fault?.kind === 'endless' && partial) {
        const length = Number(partial[2]);
        const filler = Buffer.alloc(length, 'x');
        const head = m.raw.subarray(start, start + length);
        const window = Buffer.concat([head, filler.subarray(0, length - head.length)]);
        // A line end every 1 KB, as a message has.
        for (let at = 1022 - (start % 1024); at + 1 < window.length; at += 1024) if (start + at >= m.raw.length) window.write('\r\n', at);
        if (!socket.write(Buffer.concat([Buffer.from(`* ${seq} FETCH (UID ${m.uid}${extra} ${section} {${window.length}}\r\n`), window, Buffer.from(')\r\n')]))) await drain();
        return !closed;
      }
      const asked = partial ? Number(partial[2]) : undefined;
      const sent = fault?.kind === 'short' && asked !== undefined ? Math.min(asked, fault.maxBytes) : asked;
      const whole = m.raw.subarray(start, sent !== undefined ? start + sent : undefined);
      const breakAt = fault?.kind === 'break' ? (fault.atByte ?? start + Math.floor(whole.length / 2)) : undefined;
      if (breakAt !== undefined && breakAt < start + whole.length) {
        write(`* ${seq} FETCH (UID ${m.uid}${extra} ${section} {${whole.length}}\r\n`);
        write(whole.subarray(0, Math.max(0, breakAt - start)));
        await sleep(20);
        socket.destroy();
        return false;
      }
      if (fault?.kind === 'trickle') {
        const answer = Buffer.concat([Buffer.from(`* ${seq} FETCH (UID ${m.uid}${extra} ${section} {${whole.length}}\r\n`), whole, Buffer.from(')\r\n')]);
        let at = 0;
        while (at < answer.length && !closed) {
          const end = answer.indexOf('\n', at);
          const next = end < 0 ? answer.length : end + 1;
          write(answer.subarray(at, next));
          at = next;
          await sleep(fault.intervalMs);
        }
        return !closed;
      }
      write(Buffer.concat([Buffer.from(`* ${seq} FETCH (UID ${m.uid}${extra} ${section} {${whole.length}}\r\n`), whole, Buffer.from(')\r\n')]));
      return true;
    };

    const live = () => messages.filter((m) => m.raw !== undefined);
    const uidsIn = (set: string): Set<number> => {
      const max = Math.max(0, ...live().map((m) => m.uid));
      const uids = new Set<number>();
      for (const part of set.split(',')) {
        const [a, b] = part.split(':');
        const from = a === '*' ? max : Number(a);
        const to = b === undefined ? from : b === '*' ? max : Number(b);
        for (let u = Math.min(from, to); u <= Math.max(from, to); u++) uids.add(u);
      }
      return uids;
    };

    const handle = async (line: string): Promise<void> => {
      commands.push(line);
      const match = /^(\S+)\s+(.*)$/.exec(line);
      if (!match) return;
      const [, tag, rest] = match as unknown as [string, string, string];
      const words = rest.split(' ');
      const command = words[0]!.toUpperCase();
      const isUid = command === 'UID';
      const verb = (isUid ? words[1]! : command).toUpperCase();
      const args = rest.slice((isUid ? `${words[0]} ${words[1]}` : words[0]!).length).trim();
      switch (verb) {
        case 'CAPABILITY':
          write(`* CAPABILITY IMAP4rev1\r\n${tag} OK CAPABILITY completed\r\n`);
          return;
        case 'LOGIN': {
          const [user, pass] = args.split(' ').map((w) => w.replace(/^"|"$/g, ''));
          if (user === options.user && pass === options.password) write(`${tag} OK [CAPABILITY IMAP4rev1] Logged in\r\n`);
          else write(`${tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n`);
          return;
        }
        case 'LIST':
        case 'LSUB':
          // The delimiter (LIST "" "") and the one folder there is.
          if (/""\s*$/.test(args)) write(`* ${verb} (\\Noselect) "/" ""\r\n`);
          else write(`* ${verb} (\\HasNoChildren) "/" INBOX\r\n`);
          write(`${tag} OK ${verb} completed\r\n`);
          return;
        case 'NOOP':
          write(`${tag} OK NOOP completed\r\n`);
          return;
        case 'SELECT':
        case 'EXAMINE': {
          const all = live();
          write(`* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Flags permitted.\r\n* ${all.length} EXISTS\r\n* 0 RECENT\r\n`);
          write(`* OK [UIDVALIDITY ${uidValidity}] UIDs valid\r\n* OK [UIDNEXT ${Math.max(0, ...all.map((m) => m.uid)) + 1}] Predicted next UID\r\n`);
          write(`${tag} OK [${verb === 'SELECT' ? 'READ-WRITE' : 'READ-ONLY'}] ${verb} completed\r\n`);
          return;
        }
        case 'SEARCH': {
          const query = args.toUpperCase();
          const unseen = /\bUNSEEN\b|\bNOT SEEN\b/.test(query);
          const undeleted = /\bUNDELETED\b|\bNOT DELETED\b/.test(query);
          const found = live().filter((m) => (!unseen || !m.seen) && (!undeleted || !m.deleted)).map((m) => m.uid);
          write(`* SEARCH${found.map((u) => ` ${u}`).join('')}\r\n${tag} OK SEARCH completed\r\n`);
          return;
        }
        case 'FETCH': {
          const [set = '', ...itemWords] = args.split(' ');
          const items = itemWords.join(' ').replace(/^\(|\)$/g, '').split(' ');
          const wanted = isUid ? uidsIn(set) : new Set(Array.from(uidsIn(set)).map((seq) => live()[seq - 1]?.uid).filter((u): u is number => u !== undefined));
          const wantsBody = items.some((i) => /^BODY(\.PEEK)?\[\]/i.test(i));
          for (const [index, m] of live().entries()) {
            if (!wanted.has(m.uid)) continue;
            const seq = index + 1;
            if (wantsBody) {
              if (m.fault?.kind === 'no') {
                write(`${tag} NO Internal error occurred. Refer to server log for more information.\r\n`);
                return;
              }
              if (!(await sendBody(m, seq, items))) return;
              continue;
            }
            const fields = /BODY(?:\.PEEK)?\[HEADER\.FIELDS \(([^)]*)\)\]/i.exec(items.join(' '));
            if (fields) {
              // The header lines asked for, as Dovecot gives them (folded lines whole), and the empty line.
              const names = new Set(fields[1]!.toLowerCase().split(' '));
              const head = m.raw.toString('latin1').split(/\r\n\r\n/)[0]!.split(/\r\n(?![ \t])/).filter((l) => names.has(l.slice(0, l.indexOf(':')).toLowerCase()));
              const block = Buffer.from(`${head.map((l) => `${l}\r\n`).join('')}\r\n`, 'latin1');
              write(Buffer.concat([Buffer.from(`* ${seq} FETCH (UID ${m.uid} BODY[HEADER.FIELDS (${fields[1]})] {${block.length}}\r\n`), block, Buffer.from(')\r\n')]));
              continue;
            }
            const parts = [`UID ${m.uid}`];
            if (items.some((i) => /^RFC822\.SIZE$/i.test(i))) parts.push(`RFC822.SIZE ${m.listedSize ?? m.raw.length}`);
            if (items.some((i) => /^FLAGS$/i.test(i))) parts.push(`FLAGS (${m.seen ? '\\Seen' : ''})`);
            write(`* ${seq} FETCH (${parts.join(' ')})\r\n`);
          }
          write(`${tag} OK FETCH completed\r\n`);
          return;
        }
        case 'STORE': {
          const [set = '', action = '', ...flagWords] = args.split(' ');
          const flags = flagWords.join(' ');
          const wanted = uidsIn(set);
          for (const [index, m] of live().entries()) {
            if (!wanted.has(m.uid)) continue;
            if (/\\Seen/i.test(flags)) m.seen = !action.startsWith('-');
            if (/\\Deleted/i.test(flags)) m.deleted = !action.startsWith('-');
            if (!/SILENT/i.test(action)) write(`* ${index + 1} FETCH (UID ${m.uid} FLAGS (${m.seen ? '\\Seen' : ''}))\r\n`);
          }
          write(`${tag} OK STORE completed\r\n`);
          return;
        }
        case 'LOGOUT':
          write(`* BYE logging out\r\n${tag} OK LOGOUT completed\r\n`);
          socket.end();
          return;
        default:
          write(`${tag} BAD Unknown command\r\n`);
      }
    };

    const pump = async () => {
      if (busy) return;
      busy = true;
      try {
        while (lines.length > 0 && !closed) await handle(lines.shift()!);
      } finally {
        busy = false;
      }
    };
    socket.on('data', (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
        lines.push(buffer.subarray(0, end).toString('latin1'));
        buffer = buffer.subarray(end + 2);
      }
      void pump();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    messages,
    commands,
    bodyRequests,
    connections: () => accepted,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
