/**
 * "Custom configuration properties": key=value text that admins paste from their
 * provider's docs. We never re-format it: every line keeps its bytes, and a value
 * is replaced by splicing only the value's characters.
 */

export interface PropertyLine {
  /** The line's text without its line ending. */
  text: string;
  /** "\r\n", "\n", "\r" or "" (last line without a newline). */
  eol: string;
  kind: 'blank' | 'comment' | 'entry' | 'other';
  /** For entries: the key as written (trimmed). */
  key?: string;
  /** For entries: where the value starts and ends within `text` (surrounding blanks excluded). */
  valueStart?: number;
  valueEnd?: number;
}

export interface PropertyOccurrence {
  /** Index of the line in the blob (0-based); `line` is 1-based for people. */
  index: number;
  line: number;
  key: string;
  value: string;
}

/** Splits a blob into lines, keeping each line's own ending. */
export function parseProperties(blob: string): PropertyLine[] {
  const lines: PropertyLine[] = [];
  const pattern = /([^\r\n]*)(\r\n|\n|\r|$)/g;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(blob)) !== null) {
    const [, text = '', eol = ''] = match;
    if (text === '' && eol === '') break; // end of input
    lines.push(classifyLine(text, eol));
    if (eol === '') break;
  }
  return lines;
}

function classifyLine(text: string, eol: string): PropertyLine {
  const trimmed = text.trim();
  if (trimmed === '') return { text, eol, kind: 'blank' };
  if (trimmed.startsWith('#') || trimmed.startsWith('!')) return { text, eol, kind: 'comment' };
  // As in Java properties, the first "=" or ":" separates key and value; values may
  // contain both later on (base64 padding, URLs).
  const separator = text.search(/[=:]/);
  if (separator <= 0 || text.slice(0, separator).trim() === '') return { text, eol, kind: 'other' };
  const key = text.slice(0, separator).trim();
  let valueStart = separator + 1;
  while (valueStart < text.length && /[ \t]/.test(text[valueStart]!)) valueStart++;
  let valueEnd = text.length;
  while (valueEnd > valueStart && /[ \t]/.test(text[valueEnd - 1]!)) valueEnd--;
  return { text, eol, kind: 'entry', key, valueStart, valueEnd };
}

/** Joins lines back into the exact original text. */
export function serializeProperties(lines: readonly PropertyLine[]): string {
  return lines.map((l) => l.text + l.eol).join('');
}

/** The value of an entry line. */
export function valueOf(line: PropertyLine): string {
  return line.kind === 'entry' ? line.text.slice(line.valueStart, line.valueEnd) : '';
}

/**
 * True when `key` names the same setting as `wanted`, either exactly or with a dotted
 * prefix: "mail.smtp.oauth2.client_secret" matches "client_secret". Case-insensitive,
 * because providers' docs disagree on case.
 */
export function keyMatches(key: string, wanted: string): boolean {
  const k = key.toLowerCase();
  const w = wanted.toLowerCase();
  return k === w || k.endsWith(`.${w}`);
}

/** Every entry whose key matches `wanted`, in order. */
export function findOccurrences(blob: string, wanted: string): PropertyOccurrence[] {
  return parseProperties(blob).flatMap((line, index) =>
    line.kind === 'entry' && keyMatches(line.key!, wanted)
      ? [{ index, line: index + 1, key: line.key!, value: valueOf(line) }]
      : [],
  );
}

/** Returns the blob with the value on line `index` replaced; every other byte is kept. */
export function replaceValueAt(blob: string, index: number, newValue: string): string {
  const lines = parseProperties(blob);
  const line = lines[index];
  if (!line || line.kind !== 'entry') throw new Error(`line ${index + 1} is not a key=value entry`);
  if (/[\r\n]/.test(newValue)) throw new Error('a property value cannot contain a line break');
  lines[index] = {
    ...line,
    text: line.text.slice(0, line.valueStart) + newValue + line.text.slice(line.valueEnd),
    valueEnd: line.valueStart! + newValue.length,
  };
  return serializeProperties(lines);
}

/** Entries as a plain map (last one wins), for code that only reads settings. */
export function propertiesToMap(blob: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of parseProperties(blob)) if (line.kind === 'entry') map.set(line.key!, valueOf(line));
  return map;
}
