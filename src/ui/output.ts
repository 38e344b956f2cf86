import type { Writable } from 'node:stream';
import { Chalk, type ChalkInstance } from 'chalk';

export interface OutputOptions {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  json: boolean;
  color: boolean;
  /** Columns to fit tables to when stdout is not a terminal (COLUMNS, read at the edge); default 120. */
  columns?: number | undefined;
}

export interface Column<T> {
  header: string;
  value: (row: T) => string;
}

/**
 * Everything a command shows goes through here: human lines on stdout, problems on
 * stderr, and with --json exactly one JSON document on stdout and nothing else.
 */
export class Output {
  readonly json: boolean;
  readonly color: ChalkInstance;
  readonly #stdout: OutputOptions['stdout'];
  readonly #stderr: OutputOptions['stderr'];
  readonly #columns: number | undefined;

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.#stdout = options.stdout;
    this.#stderr = options.stderr;
    this.#columns = options.columns;
    this.color = new Chalk({ level: options.color ? 1 : 0 });
  }

  get isTTY(): boolean {
    return Boolean(this.#stdout.isTTY);
  }

  /** How wide a line may be: the terminal's width, else COLUMNS, else 120. */
  get width(): number {
    const tty = this.#stdout as { isTTY?: boolean; columns?: number };
    if (tty.isTTY && tty.columns && tty.columns > 0) return tty.columns;
    return this.#columns && this.#columns > 0 ? this.#columns : 120;
  }

  /**
   * Writes bytes to stdout exactly as they are (a raw message piped to a file or a program),
   * waiting while the pipe is full. A reader that goes away (`| head`) ends the writing
   * quietly; other write errors are thrown. Not for text: it bypasses the control-character guard.
   */
  async bytes(chunks: AsyncIterable<Buffer>): Promise<void> {
    const stream = this.#stdout;
    let failed: NodeJS.ErrnoException | undefined;
    // Left attached: an EPIPE can still be emitted after the last write returned.
    stream.on('error', (error: NodeJS.ErrnoException) => (failed ??= error));
    for await (const chunk of chunks) {
      if (failed) break;
      if (!stream.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => { stream.off('drain', done); stream.off('error', done); resolve(); };
          stream.once('drain', done);
          stream.once('error', done);
        });
      }
    }
    if (failed && failed.code !== 'EPIPE') throw failed;
  }

  /** A line for people; silent under --json. */
  line(text = ''): void {
    if (!this.json) this.#stdout.write(printable(text) + '\n');
  }

  /** Text exactly as given (a properties blob keeps its bytes); silent under --json. */
  raw(text: string): void {
    if (!this.json) this.#stdout.write(text);
  }

  success(text: string): void {
    this.line(`${this.color.green('✓')} ${text}`);
  }

  warn(text: string): void {
    if (!this.json) this.#stderr.write(`${this.color.yellow('!')} ${printable(text)}\n`);
  }

  /** An error for people, always on stderr (also under --json, where stdout carries the JSON). */
  error(text: string): void {
    this.#stderr.write(`${this.color.red('✗')} ${printable(text)}\n`);
  }

  /** The one JSON document of a --json run. */
  data(value: unknown): void {
    if (this.json) this.#stdout.write(JSON.stringify(value, null, 2) + '\n');
  }

  /**
   * A plain-text table with aligned columns; silent under --json. With `fitLast`, the last
   * column is cut (…) so that each line fits `width`, keeping at least `fitLast` characters.
   */
  table<T>(rows: readonly T[], columns: readonly Column<T>[], options: { fitLast?: number } = {}): void {
    if (this.json) return;
    // A cell is one line: a subject with a line break would break the columns.
    const cells = rows.map((row) => columns.map((c) => c.value(row).replace(/\r?\n/g, '\u2424')));
    if (options.fitLast !== undefined && columns.length > 1) {
      const last = columns.length - 1;
      const before = columns.slice(0, last).reduce((sum, c, i) => sum + Math.max(displayWidth(c.header), ...cells.map((r) => displayWidth(r[i]!))) + 2, 0);
      const room = Math.max(options.fitLast, this.width - before);
      for (const row of cells) row[last] = cut(row[last]!, room);
    }
    const widths = columns.map((c, i) => Math.max(displayWidth(c.header), ...cells.map((r) => displayWidth(r[i]!))));
    const render = (values: string[]) => values.map((v, i) => (i === values.length - 1 ? v : pad(v, widths[i]!))).join('  ').trimEnd();
    this.line(this.color.bold(render(columns.map((c) => c.header))));
    for (const row of cells) this.line(render(row));
  }
}

/**
 * Text from mail (subjects, names, a server's words) can carry terminal controls: an
 * encoded-word subject of ESC[2J would clear the admin's screen. Every control character
 * but line feed and tab is shown as its Unicode picture (␛, ␍, …); our own colours
 * (SGR sequences) pass.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m|[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (m) =>
    m.length > 1 ? m : m === '\u007f' ? '\u2421' : m.charCodeAt(0) < 0x20 ? String.fromCharCode(0x2400 + m.charCodeAt(0)) : '\ufffd');
}

/**
 * Text that came in with a message (headers, bodies, file names) for the terminal: like
 * `printable`, but every ESC is shown as ␛ — mail may not set colours either (ESC[8m hides
 * text, ESC[30;40m blacks it out) — and bidirectional overrides and isolates are shown as
 * <U+202E>: "evil\u202Efdp.exe" would read "evilexe.pdf".
 */
export function mailText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (m) => {
    const code = m.charCodeAt(0);
    if (code >= 0x202a) return `<U+${code.toString(16).toUpperCase()}>`;
    return m === '\u007f' ? '\u2421' : code < 0x20 ? String.fromCharCode(0x2400 + code) : '\ufffd';
  });
}

/**
 * Text from mail for a one-line field (a label line, a table cell, a title, an address): like
 * `mailText`, and a line break is shown as ␤ (CR LF or LF; a lone CR as ␍), a tab as a space,
 * so an encoded-word subject with a line break cannot add a line that looks like ours
 * ("disposition  record-updated: …"). Every mail-derived string in a one-line field goes
 * through here; multi-line bodies go through `mailText`, line by line.
 */
export function mailLine(text: string): string {
  return mailText(text.replace(/\r?\n|[\u2028\u2029]/g, '\u2424').replace(/\t/g, ' '));
}

/** The text cut to `width` characters, the last one an ellipsis when it was cut. */
export function cut(text: string, width: number): string {
  const chars = [...text];
  return chars.length <= width ? text : `${chars.slice(0, Math.max(0, width - 1)).join('')}…`;
}

function displayWidth(text: string): number {
  // eslint-disable-next-line no-control-regex
  return [...text.replace(/\u001b\[[0-9;]*m/g, '')].length;
}

function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)));
}
