import type { Writable } from 'node:stream';
import { Chalk, type ChalkInstance } from 'chalk';

export interface OutputOptions {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  json: boolean;
  color: boolean;
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

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.#stdout = options.stdout;
    this.#stderr = options.stderr;
    this.color = new Chalk({ level: options.color ? 1 : 0 });
  }

  get isTTY(): boolean {
    return Boolean(this.#stdout.isTTY);
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

  /** A plain-text table with aligned columns; silent under --json. */
  table<T>(rows: readonly T[], columns: readonly Column<T>[]): void {
    if (this.json) return;
    // A cell is one line: a subject with a line break would break the columns.
    const cells = rows.map((row) => columns.map((c) => c.value(row).replace(/\r?\n/g, '\u2424')));
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

function displayWidth(text: string): number {
  // eslint-disable-next-line no-control-regex
  return [...text.replace(/\u001b\[[0-9;]*m/g, '')].length;
}

function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)));
}
