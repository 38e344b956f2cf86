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
      || /^Am .+ schrieb .+:$/i.test(line.trim())
      || (/^From: /i.test(line) && /^(Sent|Date): /i.test(next))
      || /^>/.test(line)) {
      end = i;
      break;
    }
  }
  return lines.slice(0, end).join('\n').replace(/\s+$/, '');
}
