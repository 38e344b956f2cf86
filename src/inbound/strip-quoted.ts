/**
 * The new text of a reply: everything above the quoted history. Recognises the forms mail
 * clients write ("On … wrote:", Outlook's "-----Original Message-----" and "From: … Sent:"
 * block, a line of underscores, ">" quotes) and drops trailing blank lines.
 */
export function stripQuoted(text: string): string {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  let end = lines.length;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const next = lines[i + 1] ?? '';
    if (/^-{2,}\s*(Original Message|Ursprüngliche Nachricht|Message d'origine)\s*-{2,}/i.test(line.trim())
      || /^_{10,}$/.test(line.trim())
      || /^On .+ wrote:$/i.test(line.trim()) || (/^On .+/i.test(line.trim()) && /wrote:$/i.test(next.trim()))
      || isGermanAttribution(line.trim())
      || (/^From: /i.test(line) && /^(Sent|Date): /i.test(next))
      || /^>/.test(line)) {
      end = i;
      break;
    }
  }
  // trimEnd(), not replace(/\s+$/): the same characters, without the quadratic retries on a
  // long run of white space that does not end the text (a hostile body).
  return lines.slice(0, end).join('\n').trimEnd();
}

/**
 * `/^Am .+ schrieb .+:$/i` ("Am 01.01.2026 schrieb Pat:") without its backtracking, which
 * took minutes on a long line of repeated " schrieb ".
 */
function isGermanAttribution(line: string): boolean {
  if (!/^Am /i.test(line) || !line.endsWith(':') || /[\n\r\u2028\u2029]/.test(line)) return false;
  const word = / schrieb /gi;
  word.lastIndex = 4; // "Am " and at least one character before it
  const found = word.exec(line);
  return found !== null && found.index + word.source.length <= line.length - 2; // at least one character before ":"
}
