import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';

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

/** The styles mailctl paints its own words with (SGR, ECMA-48 §8.3.117): each returns the text styled, or as it is without colour. */
export interface Colors {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

/** Each style's SGR parameters: [on, off] (the 16-colour set every terminal has). */
const styles: Record<keyof Colors, [number, number]> = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39] };

/**
 * Everything a command shows goes through here: human lines on stdout, problems on
 * stderr, and with --json exactly one JSON document on stdout and nothing else.
 *
 * Only mailctl's own colours reach the terminal. A style from `color` is written as a marker
 * (a per-process random string of private-use characters, which no mail can know) instead of
 * ESC; every line is made printable — every control character, ESC included, shown as its
 * picture, bidirectional controls as <U+202E> — and only then do the markers become ESC. So
 * text from mail or a server cannot colour, hide or move anything, wherever a command prints
 * it, and whether or not it went through `mailText` first.
 */
export class Output {
  readonly json: boolean;
  readonly color: Colors;
  readonly #stdout: OutputOptions['stdout'];
  readonly #stderr: OutputOptions['stderr'];
  readonly #columns: number | undefined;
  /** Stands for ESC in our own styles until a line is written; undefined without colour. */
  readonly #marker: string | undefined;
  /** The --json document, until flushData. */
  #data: { value: unknown } | undefined;

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.#stdout = options.stdout;
    this.#stderr = options.stderr;
    this.#columns = options.columns;
    // 8 characters of U+E000–U+E0FF: 64 random bits, and text that printable() leaves alone.
    this.#marker = options.color ? String.fromCharCode(...[...randomBytes(8)].map((b) => 0xe000 + b)) : undefined;
    this.color = colors(this.#marker);
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
    if (!this.json) this.#stdout.write(this.#terminal(text) + '\n');
  }

  /** Text exactly as given (a properties blob keeps its bytes); silent under --json. */
  raw(text: string): void {
    if (!this.json) this.#stdout.write(text);
  }

  success(text: string): void {
    this.line(`${this.color.green('✓')} ${text}`);
  }

  warn(text: string): void {
    if (!this.json) this.#stderr.write(this.#terminal(`${this.color.yellow('!')} ${text}`) + '\n');
  }

  /** An error for people, always on stderr (also under --json, where stdout carries the JSON). */
  error(text: string): void {
    this.#stderr.write(this.#terminal(`${this.color.red('✗')} ${text}`) + '\n');
  }

  /**
   * The one JSON document of a --json run. Kept until `flushData` (main calls it when the
   * command ends), so that what happens after the command — a running daemon picking the
   * change up — can still be added to it (`amendData`).
   */
  data(value: unknown): void {
    if (this.json) {
      this.flushData();
      this.#data = { value };
    }
  }

  /** Adds fields to the JSON document about to be written (when it is an object). */
  amendData(fields: Record<string, unknown>): void {
    if (this.#data && this.#data.value !== null && typeof this.#data.value === 'object' && !Array.isArray(this.#data.value)) {
      this.#data.value = { ...(this.#data.value as Record<string, unknown>), ...fields };
    }
  }

  /** Writes the JSON document kept by `data`, if any. */
  flushData(): void {
    if (!this.#data) return;
    const { value } = this.#data;
    this.#data = undefined;
    this.#stdout.write(JSON.stringify(value, null, 2) + '\n');
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
      const before = columns.slice(0, last).reduce((sum, c, i) => sum + Math.max(this.#width(c.header), ...cells.map((r) => this.#width(r[i]!))) + 2, 0);
      const room = Math.max(options.fitLast, this.width - before);
      for (const row of cells) row[last] = cut(row[last]!, room);
    }
    const widths = columns.map((c, i) => Math.max(this.#width(c.header), ...cells.map((r) => this.#width(r[i]!))));
    const pad = (text: string, width: number) => text + ' '.repeat(Math.max(0, width - this.#width(text)));
    const render = (values: string[]) => values.map((v, i) => (i === values.length - 1 ? v : pad(v, widths[i]!))).join('  ').trimEnd();
    this.line(this.color.bold(render(columns.map((c) => c.header))));
    for (const row of cells) this.line(render(row));
  }

  /** The text for the terminal: everything printable, then our own styles' markers as ESC. */
  #terminal(text: string): string {
    const shown = printable(text);
    return this.#marker === undefined ? shown : shown.replaceAll(this.#marker, '\u001b');
  }

  /** Characters the text takes on screen once written (our styles take none). */
  #width(text: string): number {
    const plain = this.#marker === undefined ? text : text.replace(new RegExp(`${this.#marker}\\[[0-9;]*m`, 'g'), '');
    return [...printable(plain)].length;
  }
}

/** The styles, written with `marker` for ESC; plain text when there is no marker (no colour). */
function colors(marker: string | undefined): Colors {
  const style = ([on, off]: [number, number]) => (text: string) => {
    if (marker === undefined) return text;
    const close = `${marker}[${off}m`;
    // A nested style that ends with the same code (dim inside bold) would end ours too: open it again after.
    return `${marker}[${on}m${text.replaceAll(close, `${close}${marker}[${on}m`)}${close}`;
  };
  return Object.fromEntries(Object.entries(styles).map(([name, codes]) => [name, style(codes)])) as unknown as Colors;
}

/**
 * Controls that must not reach a terminal from text: C0 but line feed and tab (ESC starts
 * every CSI and OSC sequence), DEL, C1 (U+009B is a one-character CSI on some terminals), and
 * the bidirectional controls — embeddings and overrides U+202A–U+202E, isolates U+2066–U+2069,
 * the marks U+200E, U+200F and U+061C (Unicode UAX #9): "evil\u202Efdp.exe" reads "evilexe.pdf".
 */
// eslint-disable-next-line no-control-regex
const unsafeForTerminal = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text for the terminal, whatever its source: every control character but line feed and tab
 * is shown as its Unicode picture (␛, ␍, ␇; DEL ␡; C1 as �) — an encoded-word subject of
 * ESC[2J would clear the admin's screen, ESC[8m hide text — and every bidirectional control
 * as <U+202E>. No escape sequence passes, not even a colour: Output adds its own afterwards.
 */
export function printable(text: string): string {
  return text.replace(unsafeForTerminal, (m) => {
    const code = m.charCodeAt(0);
    if (code >= 0x600) return `<U+${code.toString(16).toUpperCase().padStart(4, '0')}>`;
    return code === 0x7f ? '\u2421' : code < 0x20 ? String.fromCharCode(0x2400 + code) : '\ufffd';
  });
}

/**
 * Text that came in with a message (headers, bodies, file names) for the terminal. The same
 * as `printable` (which every line Output writes goes through anyway); kept at the call sites
 * that print mail, so the text is already safe where it is cut or measured.
 */
export function mailText(text: string): string {
  return printable(text);
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

