import { createWriteStream } from 'node:fs';
import { openPrivateAppend } from '../fs/open-private-append.js';
import type { Logger } from '../logger.js';
import type { Output } from '../ui/output.js';

/**
 * The daemon's log: JSON lines (pino) to stdout or a file for journald and log shippers;
 * on a terminal, short human lines instead. The file is opened as openPrivateAppend trusts
 * it (never through a link, only a regular file of this user's in folders only this user
 * and root can change; else a UserError before anything is written).
 */
export async function createDaemonLogger(out: Output, options: { file?: string | undefined; human: boolean }): Promise<Logger & { flush(): void }> {
  if (options.human && !options.file) {
    const line = (level: string) => (facts: Record<string, unknown>, message: string) => {
      const extras = Object.entries(facts).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
      out.line(`${new Date().toISOString().slice(11, 19)} ${level} ${message}${extras ? `  ${extras}` : ''}`);
    };
    return { info: line('info '), warn: line('WARN '), error: line('ERROR'), flush: () => undefined };
  }
  const fd = options.file ? openPrivateAppend({ path: options.file, what: 'the daemon\'s log', flag: '--log-file' }) : undefined;
  const { pino } = await import('pino');
  const destination = options.file && fd !== undefined ? createWriteStream(options.file, { fd }) : process.stdout;
  const log = pino({ base: { pid: process.pid, app: 'mailctl' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
  return {
    info: (facts, message) => log.info(facts, message),
    warn: (facts, message) => log.warn(facts, message),
    error: (facts, message) => log.error(facts, message),
    flush: () => log.flush?.(),
  };
}
