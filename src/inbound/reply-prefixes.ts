/**
 * The reply and forward prefixes mail clients put before a subject, by language (issue 16,
 * item 6). Sources: Outlook's localized "RE:"/"FW:" strings, Thunderbird's mail.reply_prefixes,
 * Apple Mail and Gmail as seen in real mail, and Wikipedia's "List of email subject
 * abbreviations". Matched without regard to case, each optionally with a counter (`RE[2]:`,
 * `Re^2:`, `Re(2):`), white space before the colon (French Outlook writes "RE :") and a
 * full-width colon (`回复：`).
 */
export const replyPrefixes: ReadonlyArray<{ prefix: string; meaning: 'reply' | 'forward'; used: string }> = [
  { prefix: 'Re', meaning: 'reply', used: 'English and most clients; also Dutch, French, Spanish, Italian, Czech Outlook' },
  { prefix: 'Fwd', meaning: 'forward', used: 'English (Gmail, Thunderbird, Apple Mail)' },
  { prefix: 'Fw', meaning: 'forward', used: 'English (Outlook)' },
  { prefix: 'AW', meaning: 'reply', used: 'German (Antwort)' },
  { prefix: 'WG', meaning: 'forward', used: 'German (Weitergeleitet)' },
  { prefix: 'Antw', meaning: 'reply', used: 'Dutch, German (Thunderbird, GroupWise)' },
  { prefix: 'Antwort', meaning: 'reply', used: 'German' },
  { prefix: 'Doorst', meaning: 'forward', used: 'Dutch (Doorgestuurd)' },
  { prefix: 'TR', meaning: 'forward', used: 'French (Transféré)' },
  { prefix: 'RV', meaning: 'forward', used: 'Spanish (Reenviado)' },
  { prefix: 'RIF', meaning: 'reply', used: 'Italian (Riferimento)' },
  { prefix: 'R', meaning: 'reply', used: 'Italian (Risposta)' },
  { prefix: 'I', meaning: 'forward', used: 'Italian (Inoltrato)' },
  { prefix: 'Res', meaning: 'reply', used: 'Portuguese (Resposta)' },
  { prefix: 'ENC', meaning: 'forward', used: 'Portuguese (Encaminhado)' },
  { prefix: 'SV', meaning: 'reply', used: 'Swedish, Danish, Norwegian (Svar)' },
  { prefix: 'VB', meaning: 'forward', used: 'Swedish (Vidarebefordrat)' },
  { prefix: 'VS', meaning: 'reply', used: 'Finnish (Vastaus); Danish and Norwegian forward (Videresendt)' },
  { prefix: 'VL', meaning: 'forward', used: 'Finnish (Välitetty)' },
  { prefix: 'Odp', meaning: 'reply', used: 'Polish (Odpowiedź), Czech (Odpověď)' },
  { prefix: 'PD', meaning: 'forward', used: 'Polish (Przekazanie dalej)' },
  { prefix: 'Vá', meaning: 'reply', used: 'Hungarian (Válasz)' },
  { prefix: 'Továbbítás', meaning: 'forward', used: 'Hungarian' },
  { prefix: 'PŘ', meaning: 'forward', used: 'Czech (Přeposláno: Thunderbird, Seznam)' },
  { prefix: 'Odg', meaning: 'reply', used: 'Croatian, Slovenian, Serbian (Odgovor)' },
  { prefix: 'Prosljeđeno', meaning: 'forward', used: 'Croatian' },
  { prefix: 'Proslijeđeno', meaning: 'forward', used: 'Croatian, Bosnian' },
  { prefix: 'Posredovano', meaning: 'forward', used: 'Slovenian' },
  { prefix: 'Răsp', meaning: 'reply', used: 'Romanian (Răspuns)' },
  { prefix: 'Rasp', meaning: 'reply', used: 'Romanian, without the breve' },
  { prefix: 'Redirecționat', meaning: 'forward', used: 'Romanian (Outlook)' },
  { prefix: 'Redirecţionat', meaning: 'forward', used: 'Romanian, with the cedilla ţ' },
  { prefix: 'Redirectionat', meaning: 'forward', used: 'Romanian, without diacritics' },
  { prefix: 'Ynt', meaning: 'reply', used: 'Turkish (Yanıt)' },
  { prefix: 'İLT', meaning: 'forward', used: 'Turkish (İlet)' },
  { prefix: 'ILT', meaning: 'forward', used: 'Turkish, without the dotted capital' },
  { prefix: 'Απ', meaning: 'reply', used: 'Greek (Απάντηση)' },
  { prefix: 'ΣΧΕΤ', meaning: 'reply', used: 'Greek (Σχετικά)' },
  { prefix: 'ΠΡΘ', meaning: 'forward', used: 'Greek (Προώθηση)' },
  { prefix: 'Отв', meaning: 'reply', used: 'Russian (Ответ)' },
  { prefix: 'Ответ', meaning: 'reply', used: 'Russian' },
  { prefix: 'Пересл', meaning: 'forward', used: 'Russian (Переслано)' },
  { prefix: 'הועבר', meaning: 'forward', used: 'Hebrew' },
  { prefix: '回复', meaning: 'reply', used: 'Chinese, simplified' },
  { prefix: '答复', meaning: 'reply', used: 'Chinese, simplified (Outlook)' },
  { prefix: '回覆', meaning: 'reply', used: 'Chinese, traditional' },
  { prefix: '转发', meaning: 'forward', used: 'Chinese, simplified' },
  { prefix: '轉寄', meaning: 'forward', used: 'Chinese, traditional' },
  { prefix: '轉發', meaning: 'forward', used: 'Chinese, traditional (Outlook)' },
  { prefix: '返信', meaning: 'reply', used: 'Japanese' },
  { prefix: '転送', meaning: 'forward', used: 'Japanese' },
  { prefix: '답장', meaning: 'reply', used: 'Korean' },
  { prefix: '회신', meaning: 'reply', used: 'Korean (Outlook)' },
  { prefix: '전달', meaning: 'forward', used: 'Korean' },
];

const known = new Set(replyPrefixes.map((p) => p.prefix.normalize('NFC').toLowerCase()));
/** No prefix is longer: a longer run of letters is a word of the subject, not a prefix. */
const longest = Math.max(...replyPrefixes.map((p) => p.prefix.length));
/** A list tag ("[support]") is at most this long; a longer bracket is part of the subject. */
const tagMax = 64;

const isSpace = (c: string | undefined) => c !== undefined && /\s/.test(c);
// Marks too: "İLT" in lower case is "i̇lt", an i and a combining dot.
const isLetter = (c: string | undefined) => c !== undefined && /[\p{L}\p{M}]/u.test(c);
const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

/**
 * The subject without the reply and forward prefixes at its start, repeated and mixed
 * ("RE: AW: Fwd[3]: x" → "x"), and Pine's "(fwd)" after it, in one pass. Mailing-list tags stay where they are, and
 * prefixes after them go: "[support] Re: x" → "[support] x" (the tag says where the mail came
 * from; the "Re:" says nothing). A subject with no prefix comes back trimmed, as it was.
 */
export function withoutReplyPrefixes(subject: string): string {
  const kept: string[] = [];
  let pos = 0;
  let removed = false;
  for (;;) {
    while (isSpace(subject[pos])) pos++;
    const after = prefixEnd(subject, pos);
    if (after > pos) {
      pos = after;
      removed = true;
      continue;
    }
    const tag = tagEnd(subject, pos);
    if (tag > pos) {
      kept.push(subject.slice(pos, tag));
      pos = tag;
      continue;
    }
    break;
  }
  const rest = withoutFwdSuffix(subject.slice(pos).trim());
  if (!removed && rest === null) return subject.trim();
  return [...kept, rest ?? subject.slice(pos).trim()].filter(Boolean).join(' ');
}

/**
 * The text without the "(fwd)" Pine and Alpine put after a forwarded subject ("Angebot Q3
 * (fwd)"), repeated or not; null when it has none (or is nothing else). Linear: each round
 * removes what it looked at.
 */
function withoutFwdSuffix(text: string): string | null {
  let rest = text;
  while (rest.length > 5 && rest.slice(-5).toLowerCase() === '(fwd)') rest = rest.slice(0, -5).trimEnd();
  return rest === text || rest === '' ? null : rest;
}

/** Where a prefix starting at `pos` ends (after its colon and the white space after it), or `pos` when none does. */
function prefixEnd(s: string, pos: number): number {
  let i = pos;
  while (i - pos <= longest && isLetter(s[i])) i++;
  if (i === pos || i - pos > longest || !known.has(s.slice(pos, i).normalize('NFC').toLowerCase())) return pos;
  const spaceStart = i;
  // White space before the counter or colon: bounded, so "Re" and a megabyte of spaces is not scanned twice.
  while (i - spaceStart < 4 && isSpace(s[i])) i++;
  // The counter: RE[2], Re(2), Re^2.
  const open = s[i];
  if (open === '[' || open === '(' || open === '^') {
    let j = i + 1;
    while (j - i <= 4 && isDigit(s[j])) j++;
    if (j > i + 1 && (open === '^' || s[j] === (open === '[' ? ']' : ')'))) {
      i = open === '^' ? j : j + 1;
      const space = i;
      while (i - space < 4 && isSpace(s[i])) i++;
    }
  }
  if (s[i] !== ':' && s[i] !== '\uff1a') return pos;
  return i + 1;
}

/** Where a list tag ("[support]") starting at `pos` ends, or `pos` when there is none. */
function tagEnd(s: string, pos: number): number {
  if (s[pos] !== '[') return pos;
  for (let i = pos + 1; i < s.length && i - pos <= tagMax; i++) {
    if (s[i] === '[') return pos;
    if (s[i] === ']') return i > pos + 1 ? i + 1 : pos;
  }
  return pos;
}
