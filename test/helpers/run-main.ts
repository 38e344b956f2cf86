import { Writable } from 'node:stream';
import { main } from '../../src/cli.js';
import type { Clock } from '../../src/clock.js';
import type { CliResult } from './run-cli.js';

function collector(): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({ write(chunk: Buffer, _enc, done) { chunks.push(Buffer.from(chunk)); done(); } });
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => Buffer.concat(chunks).toString('utf8') };
}

/**
 * Runs mailctl in this process with a chosen clock: for what only shows days later
 * (a stale heartbeat, a refresh token near its 90 days). Everything else is the real code.
 */
export async function runMain(args: string[], options: { env: Record<string, string>; clock: Clock }): Promise<CliResult> {
  const out = collector();
  const err = collector();
  const code = await main(args, { env: options.env, stdout: out.stream, stderr: err.stream, stdinIsTTY: false, clock: options.clock });
  return { code, stdout: out.text(), stderr: err.text() };
}

/** A clock `ms` ahead of the real one. */
export function clockAhead(ms: number): Clock {
  return { now: () => new Date(Date.now() + ms) };
}
