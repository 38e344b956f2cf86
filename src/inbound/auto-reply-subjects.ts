/**
 * The subjects that out-of-office and other auto-responders write, in the languages of our
 * users. Many of them send no `Auto-Submitted` (RFC 3834 §5): Exchange and Outlook rules in
 * particular mark their replies only with a translated "Automatic reply:" and
 * `X-Auto-Response-Suppress: All` ([MS-OXCMAIL] 2.2.3.2.14), so the subject is the only sign
 * left. Sources: the strings Outlook/Exchange (2007–365), Gmail, Lotus/HCL Notes, Zimbra and
 * Dovecot's vacation (Pigeonhole) put in their localized auto-reply subjects.
 *
 * Each phrase counts only at the start of the subject (after reply prefixes that a client
 * adds, "Re:", "AW:", "SV:" …) and only when it stands as a label: followed by a colon, in
 * brackets ("[Auto-Reply] …") or as the whole subject. So "Re: out of office schedule for the
 * team", a person's subject, is no auto-reply, and neither is a body that says "out of office".
 *
 * `alone`: only machines write this label; it is enough by itself. Otherwise the phrase is
 * also something a person may write as a topic ("Out of office: Friday 12th"), and it counts
 * only with another hint that the message was generated (see automatic-mail.ts).
 */
export interface AutoReplySubject {
  /** Lower case, single spaces, as written after the reply prefixes. */
  phrase: string;
  /** BCP 47 language tags the phrase is written in. */
  languages: readonly string[];
  alone: boolean;
}

export const autoReplySubjects: readonly AutoReplySubject[] = [
  // English: Outlook/Exchange 2010+, Exchange 2003/2007, Notes, Zimbra, helpdesks.
  { phrase: 'automatic reply', languages: ['en'], alone: true },
  { phrase: 'auto reply', languages: ['en'], alone: true },
  { phrase: 'auto-reply', languages: ['en'], alone: true },
  { phrase: 'autoreply', languages: ['en', 'de', 'nl', 'sv', 'da', 'no'], alone: true },
  { phrase: 'automatic response', languages: ['en'], alone: true },
  { phrase: 'auto response', languages: ['en'], alone: true },
  { phrase: 'auto-response', languages: ['en'], alone: true },
  { phrase: 'autoresponse', languages: ['en'], alone: true },
  { phrase: 'out of office autoreply', languages: ['en'], alone: true },
  { phrase: 'out of office reply', languages: ['en'], alone: true },
  { phrase: 'out of office', languages: ['en'], alone: false },
  { phrase: 'out of the office', languages: ['en'], alone: false },
  // German: Outlook ("Automatische Antwort:"), Exchange 2007 ("Abwesenheitsnotiz:").
  { phrase: 'automatische antwort', languages: ['de'], alone: true },
  { phrase: 'abwesenheitsnotiz', languages: ['de'], alone: true },
  { phrase: 'automatische abwesenheitsnotiz', languages: ['de'], alone: true },
  { phrase: 'abwesend', languages: ['de'], alone: false },
  { phrase: 'nicht im büro', languages: ['de'], alone: false },
  // French: Outlook ("Réponse automatique :", with a no-break space before the colon), Exchange 2007.
  { phrase: 'réponse automatique', languages: ['fr'], alone: true },
  { phrase: 'reponse automatique', languages: ['fr'], alone: true },
  { phrase: 'absent du bureau', languages: ['fr'], alone: false },
  { phrase: 'absente du bureau', languages: ['fr'], alone: false },
  { phrase: 'absence du bureau', languages: ['fr'], alone: false },
  // Dutch
  { phrase: 'automatisch antwoord', languages: ['nl'], alone: true },
  { phrase: 'afwezigheidsmelding', languages: ['nl'], alone: true },
  { phrase: 'afwezig', languages: ['nl'], alone: false },
  { phrase: 'niet op kantoor', languages: ['nl'], alone: false },
  // Spanish
  { phrase: 'respuesta automática', languages: ['es'], alone: true },
  { phrase: 'respuesta automatica', languages: ['es'], alone: true },
  { phrase: 'fuera de la oficina', languages: ['es'], alone: false },
  { phrase: 'fuera de oficina', languages: ['es'], alone: false },
  // Italian
  { phrase: 'risposta automatica', languages: ['it'], alone: true },
  { phrase: 'fuori sede', languages: ['it'], alone: false },
  { phrase: 'fuori ufficio', languages: ['it'], alone: false },
  // Portuguese
  { phrase: 'resposta automática', languages: ['pt'], alone: true },
  { phrase: 'resposta automatica', languages: ['pt'], alone: true },
  { phrase: 'fora do escritório', languages: ['pt'], alone: false },
  { phrase: 'ausente do escritório', languages: ['pt'], alone: false },
  // Swedish
  { phrase: 'automatiskt svar', languages: ['sv'], alone: true },
  { phrase: 'frånvaromeddelande', languages: ['sv'], alone: true },
  { phrase: 'frånvarande', languages: ['sv'], alone: false },
  // Danish and Norwegian (Bokmål) share these.
  { phrase: 'automatisk svar', languages: ['da', 'no'], alone: true },
  { phrase: 'autosvar', languages: ['sv', 'da', 'no'], alone: true },
  { phrase: 'ikke på kontoret', languages: ['da', 'no'], alone: false },
  { phrase: 'fraværende', languages: ['da', 'no'], alone: false },
  // Finnish
  { phrase: 'automaattinen vastaus', languages: ['fi'], alone: true },
  { phrase: 'poissa toimistolta', languages: ['fi'], alone: false },
  // Polish
  { phrase: 'odpowiedź automatyczna', languages: ['pl'], alone: true },
  { phrase: 'automatyczna odpowiedź', languages: ['pl'], alone: true },
  { phrase: 'autoodpowiedź', languages: ['pl'], alone: true },
  { phrase: 'poza biurem', languages: ['pl'], alone: false },
  // Others Outlook writes, seen in the same mailboxes.
  { phrase: 'automatická odpověď', languages: ['cs'], alone: true },
  { phrase: 'otomatik yanıt', languages: ['tr'], alone: true },
  { phrase: 'автоматический ответ', languages: ['ru'], alone: true },
  { phrase: '自动回复', languages: ['zh'], alone: true },
  { phrase: '自動回覆', languages: ['zh-Hant'], alone: true },
  { phrase: '自動応答', languages: ['ja'], alone: true },
];

/**
 * Reply prefixes that clients put in front of a subject ("Re:", German "AW:", Scandinavian
 * "SV:", Finnish "VS:", Dutch "Antw:", Polish "Odp:", Italian "R:"/"Rif:", Portuguese "Res:",
 * Turkish "YNT:", Chinese "回复:"), with counters ("Re[2]:", "RE(3):"). Forward prefixes are
 * not skipped: "FW: Automatic reply: …" is a person passing an auto-reply on.
 */
const replyPrefix = /^(?:re|aw|sv|vs|antw|antwort|odp|r|rif|res|resp|ynt|atb|回复|回覆|答复|返信)\s?(?:\[\d{1,4}\]|\(\d{1,4}\))?\s?[:：]\s*/;

/** Only this much of a subject is looked at: a label is near its start, and a hostile subject can be 1 MB. */
const subjectHead = 300;

/** The subject in the form the table is written in: lower case, NFC, no-break and other spaces as one space. */
function normalized(subject: string): string {
  return subject.slice(0, subjectHead).normalize('NFC').toLowerCase().replace(/[\s\u00a0\u2000-\u200b\u202f\u205f\u3000]+/g, ' ').trim();
}

/** The subject without the reply prefixes clients add in front of it (normalized). */
export function withoutReplyPrefixes(subject: string): string {
  let rest = normalized(subject);
  // At most a few rounds: each removes one prefix; a subject of 1,000 "Re:" is cut at subjectHead anyway.
  for (let i = 0; i < 20; i++) {
    const match = replyPrefix.exec(rest);
    if (!match) break;
    rest = rest.slice(match[0].length);
  }
  return rest;
}

/**
 * The table's entry whose phrase labels this subject (at its start, after reply prefixes;
 * followed by a colon, in brackets, or alone), or undefined. The longest phrase wins, so
 * "Out of Office AutoReply:" is the machine-only entry, not the weaker "Out of office".
 */
export function autoReplySubject(subject: string): AutoReplySubject | undefined {
  const rest = withoutReplyPrefixes(subject);
  let best: AutoReplySubject | undefined;
  for (const entry of autoReplySubjects) {
    if (!labels(rest, entry.phrase)) continue;
    if (!best || entry.phrase.length > best.phrase.length) best = entry;
  }
  return best;
}

/** True when `phrase` stands at the start of `rest` as a label: "phrase:", "[phrase]", "(phrase)" or the whole of it. */
function labels(rest: string, phrase: string): boolean {
  if (rest.startsWith(phrase)) {
    const after = rest.slice(phrase.length).trimStart();
    return after === '' || after.startsWith(':') || after.startsWith('：');
  }
  const open = rest[0];
  if (open !== '[' && open !== '(') return false;
  const inner = rest.slice(1).trimStart();
  return inner.startsWith(phrase) && inner.slice(phrase.length).trimStart().startsWith(open === '[' ? ']' : ')');
}
