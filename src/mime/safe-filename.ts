/** Longest file name most Linux filesystems take, in bytes. */
const maxNameBytes = 255;

/**
 * A file name from a message, made safe to create inside a folder the admin chose: only the
 * last path segment (after any / or \), without control characters or bidirectional
 * overrides (U+202E turns "gpj.exe" into "exe.jpg" on screen), without leading dots (no
 * hidden files, no "." or ".."), at most 255 bytes with the extension kept. What is left
 * empty becomes `fallback` ("attachment-3"). A mail's name never chooses where a file goes.
 */
export function safeFilename(name: string | null, fallback: string): string {
  const last = (name ?? '').split(/[/\\]/).pop() ?? '';
  const clean = last
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, '')
    .trim()
    .replace(/^\.+/, '')
    .trim();
  return clean === '' ? fallback : fitBytes(clean, maxNameBytes);
}

/** The name cut to `max` UTF-8 bytes, keeping a short extension and whole characters. */
function fitBytes(name: string, max: number): string {
  if (Buffer.byteLength(name) <= max) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  let stem = '';
  for (const char of name.slice(0, name.length - ext.length)) {
    if (Buffer.byteLength(stem + char + ext) > max) break;
    stem += char;
  }
  return stem + ext;
}

/**
 * `name` made unique among `taken` (which it is added to): "report.pdf", then
 * "report-2.pdf" for the second attachment of that name (the number is its position).
 */
export function uniqueFilename(name: string, position: number, taken: Set<string>): string {
  let candidate = name;
  if (taken.has(candidate)) {
    const dot = name.lastIndexOf('.');
    const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
    candidate = `${stem}-${position}${ext}`;
    for (let n = 2; taken.has(candidate); n++) candidate = `${stem}-${position}-${n}${ext}`;
  }
  taken.add(candidate);
  return candidate;
}
