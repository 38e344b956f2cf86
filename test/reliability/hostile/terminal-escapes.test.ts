import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Output } from '../../../src/ui/output.js';
import { runCli, type CliResult } from '../../helpers/run-cli.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

/**
 * Issue 14, item 10 (escapes): a server's words reach the admin's terminal too — an error
 * reply, a greeting, the SMTP transcript, the last poll error in `status`. A hostile server
 * puts colour and style sequences in them (ESC[8m hides text, ESC[30;40m blacks it out), an
 * OSC (ESC]0;…BEL sets the window title, ESC]8 makes a link), a C1 CSI (U+009B) and the
 * right-to-left override. Only mailctl's own colours may reach the terminal.
 */
const hostile = 'x \u001b[8mhidden\u001b[0m \u001b[30;40mblack\u001b[0m \u001b]0;pwned\u0007 \u001b]8;;https://evil.test\u0007link\u001b]8;;\u0007 \u009b31mC1 \u202eevil \u200fmark';

/** What may not appear in human output: any ESC, BEL, C1, or bidirectional control. */
// eslint-disable-next-line no-control-regex
const raw = /[\u001b\u0007\u0080-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** A line-at-a-time server on loopback that answers each command with `answer(line)`. */
async function startLineServer(greeting: string, answer: (line: string, socket: Socket) => string | undefined): Promise<{ port: number; server: Server }> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.write(greeting);
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const reply = answer(line, socket);
        if (reply !== undefined) socket.write(Buffer.from(reply, 'utf8'));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { port: (server.address() as { port: number }).port, server };
}

/** POP3 (RFC 1939) that refuses the login with the hostile words. */
function pop3(line: string, socket: Socket): string | undefined {
  const verb = line.split(' ')[0]!.toUpperCase();
  if (verb === 'CAPA') return '+OK\r\nUSER\r\n.\r\n';
  if (verb === 'USER') return '+OK\r\n';
  if (verb === 'PASS') return `-ERR [AUTH] ${hostile}\r\n`;
  if (verb === 'QUIT') {
    socket.end('+OK bye\r\n');
    return undefined;
  }
  return `-ERR ${hostile}\r\n`;
}

/** SMTP (RFC 5321) that greets and refuses the recipient with the hostile words. */
function smtp(line: string, socket: Socket): string | undefined {
  const verb = line.split(/[ :]/)[0]!.toUpperCase();
  if (verb === 'EHLO' || verb === 'HELO') return `250-evil.test ${hostile}\r\n250 8BITMIME\r\n`;
  if (verb === 'MAIL') return '250 2.1.0 ok\r\n';
  if (verb === 'RCPT') return `550 5.1.1 ${hostile}\r\n`;
  if (verb === 'QUIT') {
    socket.end('221 bye\r\n');
    return undefined;
  }
  if (verb === 'RSET' || verb === 'NOOP') return '250 ok\r\n';
  return `502 ${hostile}\r\n`;
}

function expectShownNotObeyed(result: CliResult, what: string): void {
  const all = result.stdout + result.stderr;
  expect(all, what).not.toMatch(raw);
  // The words are there, as pictures: the admin sees what the server tried.
  expect(all, what).toContain('␛[8mhidden');
  expect(all, what).toContain('<U+202E>evil');
}

describe('a server\'s words cannot drive the admin\'s terminal (issue 14, item 10)', () => {
  const tempDir = useTempDirs();
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });

  it('POP3: the refusal shown by test-inbound, daemon --once and status carries no escape, no C1 and no bidi control', async () => {
    const { port, server } = await startLineServer(`+OK ready ${hostile}\r\n`, pop3);
    servers.push(server);
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file', COLUMNS: '1000' };
    for (const args of [['init', '--name', 'acme', '--url', 'https://records.acme.test', '--environment', 'test'], ['tables', 'add', 'contracts']]) {
      expect((await runCli(args, { env })).code).toBe(0);
    }
    const configured = await runCli(['configure', 'inbound', 'contracts', '--protocol', 'pop3', '--host', '127.0.0.1', '--port', String(port), '--security', 'none',
      '--auth', 'password', '--username', 'contracts@acme.test', '--secret-stdin', '--create-records', '--unknown-sender', 'ignore', '--notes', 'new-text',
      '--after', 'keep', '--no-verify'], { env, input: 'pw' });
    expect(configured.code, configured.stderr).toBe(0);

    const check = await runCli(['test-inbound', '--timeout', '5s'], { env });
    expect(check.code).not.toBe(0);
    expectShownNotObeyed(check, 'test-inbound');

    const once = await runCli(['daemon', '--once', '--timeout', '5s'], { env, timeoutMs: 60_000 });
    expect(once.stdout + once.stderr).not.toMatch(raw);
    const status = await runCli(['status'], { env });
    expect(status.code).toBe(0);
    expect(status.stdout + status.stderr).not.toMatch(raw);
    expect(status.stdout).toContain('␛[8mhidden');
    // --json keeps the server's exact words: JSON escapes them, and a program may want them.
    const json = await runCli(['--json', 'test-inbound', '--timeout', '5s'], { env });
    expect(json.stdout).toContain('\\u001b[8mhidden');
  }, 90_000);

  it('SMTP: the refusal and the transcript of test-send carry no escape, no C1 and no bidi control', async () => {
    const { port, server } = await startLineServer(`220 evil.test ESMTP ${hostile}\r\n`, smtp);
    servers.push(server);
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    expect((await runCli(['init', '--name', 'acme', '--url', 'https://records.acme.test', '--environment', 'production'], { env })).code).toBe(0);
    const configured = await runCli(['configure', 'server', '--host', '127.0.0.1', '--port', String(port), '--security', 'none', '--auth', 'none',
      '--from', 'records@acme.test', '--no-verify'], { env });
    expect(configured.code, configured.stderr).toBe(0);
    const sent = await runCli(['test-send', '--to', 'pat@acme.test', '--transcript'], { env });
    expect(sent.code).not.toBe(0);
    expectShownNotObeyed(sent, 'test-send --transcript');
  }, 60_000);

  it('with colour on, mailctl\'s own colours still reach the terminal, and a server\'s never do, even inside ours', () => {
    let written = '';
    const sink = { write: (text: string) => ((written += text), true), isTTY: true } as unknown as NodeJS.WritableStream & { isTTY: boolean };
    const out = new Output({ stdout: sink as never, stderr: sink as never, json: false, color: true });
    out.line(`${out.color.red('✗')} server said: ${out.color.dim(hostile)}`);
    out.table([{ v: out.color.green('ok'), w: hostile }], [{ header: 'V', value: (r) => r.v }, { header: 'W', value: (r) => r.w }]);
    // Ours: red, dim, green, bold (the table header) — ESC [ digits m, and nothing else.
    expect(written).toContain('\u001b[31m✗\u001b[39m');
    expect(written).toContain('\u001b[32mok\u001b[39m');
    expect(written).toContain('\u001b[2mx ␛[8mhidden␛[0m');
    // eslint-disable-next-line no-control-regex
    const escapes = written.match(/\u001b[^\n]{0,8}/g) ?? [];
    // eslint-disable-next-line no-control-regex
    expect(escapes.every((e) => /^\u001b\[(1|2|22|31|32|39)m/.test(e))).toBe(true);
    // eslint-disable-next-line no-control-regex
    expect(written.replace(/\u001b\[(1|2|22|31|32|39)m/g, '')).not.toMatch(raw);
    // The table lines up: the hidden markers take no room.
    const [header, row] = written.split('\n').slice(1, 3);
    // eslint-disable-next-line no-control-regex
    expect(header!.replace(/\u001b\[\d+m/g, '').indexOf('W')).toBe(row!.replace(/\u001b\[\d+m/g, '').indexOf('x '));
  });
});
