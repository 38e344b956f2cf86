/**
 * Text cut to at most `max` UTF-16 units, well-formed: a lone surrogate (from a broken
 * encoded-word) becomes U+FFFD and a pair is never cut in half. Otherwise SQLite's UTF-8
 * turns one lone surrogate into three replacement characters and the stored value
 * outgrows its bound. Only the first `max` + 1 units are read: a long text is not copied whole.
 */
export function boundedText(text: string, max: number): string {
  // One unit past `max`: a high surrogate at max - 1 still sees its pair.
  const head = text.length > max ? text.slice(0, max + 1) : text;
  const clean = head.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  if (clean.length <= max) return clean;
  const end = /[\uD800-\uDBFF]/.test(clean.charAt(max - 1)) ? max - 1 : max;
  return clean.slice(0, end);
}
