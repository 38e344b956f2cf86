/** Longest file name most Linux filesystems take, in bytes (not characters: 漢 is 3 bytes). */
export const maxNameBytes = 255;

/** Extensions for an attachment that came without a name, by its content type. */
const extensions: Record<string, string> = {
  'message/rfc822': '.eml',
  'message/global': '.eml',
  'text/plain': '.txt',
  'text/html': '.html',
  'text/csv': '.csv',
  'text/calendar': '.ics',
  'text/vcard': '.vcf',
  'text/x-vcard': '.vcf',
  'application/pdf': '.pdf',
  'application/zip': '.zip',
  'application/json': '.json',
  'application/xml': '.xml',
  'text/xml': '.xml',
  'application/msword': '.doc',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': '.docx',
  'application/vnd.ms-excel': '.xls',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': '.xlsx',
  'application/vnd.ms-powerpoint': '.ppt',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': '.pptx',
  'application/vnd.oasis.opendocument.text': '.odt',
  'application/vnd.oasis.opendocument.spreadsheet': '.ods',
  'application/pkcs7-signature': '.p7s',
  'application/x-pkcs7-signature': '.p7s',
  'application/pgp-signature': '.asc',
  'image/png': '.png',
  'image/jpeg': '.jpg',
  'image/gif': '.gif',
  'image/webp': '.webp',
  'image/svg+xml': '.svg',
  'image/tiff': '.tif',
  'audio/mpeg': '.mp3',
  'video/mp4': '.mp4',
};

/**
 * The name an attachment without one is saved as: "attachment-N" and the extension of its
 * content type when it is a known one ("attachment-2.eml" for a forwarded message,
 * message/rfc822), else no extension.
 */
export function fallbackFilename(position: number, contentType: string | null): string {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  return `attachment-${position}${extensions[type] ?? ''}`;
}

/**
 * A file name from a message, made safe to create inside a folder the admin chose: only the
 * last path segment (after any / or \), without control characters or bidirectional
 * overrides (U+202E turns "gpj.exe" into "exe.jpg" on screen), without leading dots or
 * spaces — stripped until none is left, so ". .bashrc" is "bashrc" and never "." or ".." —
 * at most 255 UTF-8 bytes with the extension kept. What is left empty becomes `fallback`
 * (see fallbackFilename). A mail's name never chooses where a file goes.
 */
export function safeFilename(name: string | null, fallback: string): string {
  const last = (name ?? '').split(/[/\\]/).pop() ?? '';
  const clean = last
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, '')
    // Every leading dot and space at once: ". .bashrc" and ". .." leave nothing hidden, no "..".
    .replace(/^[.\s]+/, '')
    .trim();
  return clean === '' ? fallback : fitBytes(clean, maxNameBytes);
}

/**
 * The text cut to at most `max` UTF-8 bytes, whole characters only (a cut never splits a
 * multi-byte character or a surrogate pair).
 */
export function cutToBytes(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  let out = '';
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > max) break;
    out += char;
    bytes += size;
  }
  return out;
}

/** The name cut to `max` UTF-8 bytes, keeping a short extension and whole characters. */
function fitBytes(name: string, max: number): string {
  if (Buffer.byteLength(name) <= max) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  return cutToBytes(name.slice(0, name.length - ext.length), max - Buffer.byteLength(ext)) + ext;
}

/**
 * `name` made unique among `taken` (which it is added to): "report.pdf", then
 * "report-2.pdf" for the second attachment of that name (the number is its position); the
 * stem is shortened when the suffix would take the name past 255 bytes.
 */
export function uniqueFilename(name: string, position: number, taken: Set<string>): string {
  let candidate = name;
  if (taken.has(candidate)) {
    const dot = name.lastIndexOf('.');
    const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
    const numbered = (suffix: string) => cutToBytes(stem, maxNameBytes - Buffer.byteLength(suffix + ext)) + suffix + ext;
    candidate = numbered(`-${position}`);
    for (let n = 2; taken.has(candidate); n++) candidate = numbered(`-${position}-${n}`);
  }
  taken.add(candidate);
  return candidate;
}
