const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const lfDot = Buffer.from('\n.');

/** What one piece of a multi-line reply gave: message bytes, and whether the end line came (with what followed it). */
export interface DecodedPiece {
  data: Buffer[];
  ended: boolean;
  /** Bytes after the end line (none from a server that waits for the next command). */
  rest: Buffer;
}

/**
 * Undoes POP3's dot-stuffing on a multi-line reply as it streams (RFC 1939 §3): a line that
 * begins with "." lost that dot; a line that is only "." ends the reply. Works on bytes, not
 * lines, so a line of any length (a 1 MB line that Postfix delivers unchanged) passes in the
 * pieces it came in, with no copy; line ends are kept as the server sent them. A bare LF ends a
 * line too, as the old line reader took it.
 */
export class DotDecoder {
  #atLineStart = true;
  /** A line-start "." (or ".\r") cut off at the end of a piece: the end line, or a stuffed dot. */
  #pending: Buffer | null = null;

  /** Decodes the next piece of the reply. */
  push(piece: Buffer): DecodedPiece {
    const buf = this.#pending ? Buffer.concat([this.#pending, piece]) : piece;
    this.#pending = null;
    const data: Buffer[] = [];
    const emit = (from: number, to: number) => {
      if (to > from) data.push(buf.subarray(from, to));
    };
    let start = 0; // first byte not emitted yet
    let lineStart = this.#atLineStart ? 0 : -1; // a line start to look at, or -1 to search for the next "\n."
    let searchFrom = 0;
    for (;;) {
      if (lineStart < 0) {
        const at = buf.indexOf(lfDot, searchFrom);
        if (at < 0) {
          emit(start, buf.length);
          // A piece that ends with LF (or with the LF of a "\n." split after it) leaves a line start.
          this.#atLineStart = buf.length > 0 ? buf[buf.length - 1] === LF : this.#atLineStart;
          return { data, ended: false, rest: Buffer.alloc(0) };
        }
        lineStart = at + 1;
      }
      const p = lineStart;
      if (p >= buf.length) {
        emit(start, buf.length);
        this.#atLineStart = true;
        return { data, ended: false, rest: Buffer.alloc(0) };
      }
      if (buf[p] !== DOT) {
        lineStart = -1;
        searchFrom = p;
        continue;
      }
      const next = buf[p + 1];
      const afterCr = buf[p + 2];
      if (next === undefined || (next === CR && afterCr === undefined)) {
        // Not enough to tell the end line from a stuffed dot: keep the dot for the next piece.
        emit(start, p);
        this.#pending = Buffer.from(buf.subarray(p));
        this.#atLineStart = true;
        return { data, ended: false, rest: Buffer.alloc(0) };
      }
      if (next === LF || (next === CR && afterCr === LF)) {
        emit(start, p);
        this.#atLineStart = true;
        return { data, ended: true, rest: buf.subarray(p + (next === LF ? 2 : 3)) };
      }
      // A stuffed dot: drop it, the line goes on.
      emit(start, p);
      start = p + 1;
      searchFrom = p + 1;
      lineStart = -1;
    }
  }
}
