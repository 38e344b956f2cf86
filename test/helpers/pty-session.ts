import pty from 'node-pty';
import { binPath } from './run-cli.js';

/** Strips colours and cursor movement so screen text can be matched. */
export function plain(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\u001b[()][A-Z0-9]/g, '').replace(/\r/g, '');
}

/** Drives the real mailctl binary through a pseudo-terminal, as a person at a keyboard would. */
export class PtySession {
  readonly #term: pty.IPty;
  #output = '';
  #consumed = 0;
  readonly exited: Promise<number>;

  constructor(args: string[], env: Record<string, string>) {
    this.#term = pty.spawn(process.execPath, [binPath, ...args], {
      name: 'xterm-256color',
      cols: 120,
      rows: 40,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TERM: 'xterm-256color', ...env },
    });
    this.#term.onData((data) => (this.#output += data));
    this.exited = new Promise((resolve) => this.#term.onExit(({ exitCode }) => resolve(exitCode)));
  }

  /** Everything shown so far, escape codes included. */
  get rawOutput(): string {
    return this.#output;
  }

  /** Everything shown so far, without escape codes. */
  get screen(): string {
    return plain(this.#output);
  }

  /** Waits until text matching `pattern` appears after the last match. */
  async waitFor(pattern: RegExp | string, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rest = plain(this.#output).slice(this.#consumed);
      const index = typeof pattern === 'string' ? rest.indexOf(pattern) : rest.search(pattern);
      if (index >= 0) {
        const matchLength = typeof pattern === 'string' ? pattern.length : (rest.slice(index).match(pattern)?.[0].length ?? 0);
        this.#consumed += index + matchLength;
        return rest.slice(0, index + matchLength);
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(pattern)}; screen so far:\n${this.screen}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Types text; "\r" is Enter. */
  type(text: string): void {
    this.#term.write(text);
  }

  kill(): void {
    this.#term.kill();
  }
}
