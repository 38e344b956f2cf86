/**
 * The subjects that out-of-office and other auto-responders write, in the languages of our
 * users. Many of them send no `Auto-Submitted` (RFC 3834 §5): Exchange and Outlook rules in
 * particular mark their replies only with a translated "Automatic reply:" and
 * `X-Auto-Response-Suppress: All` ([MS-OXCMAIL] 2.2.3.2.14), so the subject is the only sign
 * left. Sources: the strings Outlook/Exchange (2007–365), Gmail, Lotus/HCL Notes, Zimbra and
 * Dovecot's vacation (Pigeonhole) put in their localized auto-reply subjects.
 *
 * Each phrase counts only at the start of the subject (after reply prefixes that a client
 * adds, "Re:", "AW:", "SV:" …, and the tags a gateway puts in front, "[EXTERNAL]", "[EXTERN]",
 * "EXTERNAL:", "[SPAM]" …) and only when it stands as a label: followed by a colon, in
 * brackets ("[Auto-Reply] …") or as the whole subject. A machine label may also take
 * Exchange's localized "<Automatic reply> <of Out of office>:" shape, a few more words before
 * the colon ("Respuesta automática de Fuera de la oficina:", "Réponse automatique d'absence
 * du bureau :"). So "Re: out of office schedule for the team", a person's subject, is no
 * auto-reply, and neither is a body that says "out of office".
 *
 * A label is a sign, not proof: people write "Auto-reply: please switch it off" or
 * "Abwesenheitsnotiz: bitte für Kim einrichten" as the topic of a request. So every label
 * counts only with another sign that the message was generated (see automatic-mail.ts) —
 * except `alone`, Exchange 2003's "Out of Office AutoReply:", which no person writes and which
 * that server sent with no other sign.
 */
export interface AutoReplySubject {
  /** Lower case, single spaces, as written after the reply prefixes. */
  phrase: string;
  /** BCP 47 language tags the phrase is written in. */
  languages: readonly string[];
  /** Enough by itself (no other sign needed). */
  alone: boolean;
  /** A responder's own label ("Automatic reply"), not a topic ("Out of office"): it may take Exchange's "<label> <more words>:" shape. */
  machine?: boolean;
}

export const autoReplySubjects: readonly AutoReplySubject[] = [
  // English: Outlook/Exchange 2010+, Exchange 2003/2007, Notes, Zimbra, helpdesks.
  { phrase: 'automatic reply', languages: ['en'], alone: false, machine: true },
  { phrase: 'auto reply', languages: ['en'], alone: false, machine: true },
  { phrase: 'auto-reply', languages: ['en'], alone: false, machine: true },
  { phrase: 'autoreply', languages: ['en', 'de', 'nl', 'sv', 'da', 'no'], alone: false, machine: true },
  { phrase: 'automatic response', languages: ['en'], alone: false, machine: true },
  { phrase: 'auto response', languages: ['en'], alone: false, machine: true },
  { phrase: 'auto-response', languages: ['en'], alone: false, machine: true },
  { phrase: 'autoresponse', languages: ['en'], alone: false, machine: true },
  { phrase: 'out of office autoreply', languages: ['en'], alone: true, machine: true },
  { phrase: 'out of office reply', languages: ['en'], alone: false, machine: true },
  { phrase: 'out of office', languages: ['en'], alone: false },
  { phrase: 'out of the office', languages: ['en'], alone: false },
  // German: Outlook ("Automatische Antwort:"), Exchange 2007 ("Abwesenheitsnotiz:").
  { phrase: 'automatische antwort', languages: ['de'], alone: false, machine: true },
  { phrase: 'abwesenheitsnotiz', languages: ['de'], alone: false, machine: true },
  { phrase: 'automatische abwesenheitsnotiz', languages: ['de'], alone: false, machine: true },
  { phrase: 'abwesend', languages: ['de'], alone: false },
  { phrase: 'nicht im büro', languages: ['de'], alone: false },
  // French: Outlook ("Réponse automatique :", with a no-break space before the colon), Exchange 2007.
  { phrase: 'réponse automatique', languages: ['fr'], alone: false, machine: true },
  { phrase: 'reponse automatique', languages: ['fr'], alone: false, machine: true },
  { phrase: 'absent du bureau', languages: ['fr'], alone: false },
  { phrase: 'absente du bureau', languages: ['fr'], alone: false },
  { phrase: 'absence du bureau', languages: ['fr'], alone: false },
  // Dutch
  { phrase: 'automatisch antwoord', languages: ['nl'], alone: false, machine: true },
  { phrase: 'afwezigheidsmelding', languages: ['nl'], alone: false, machine: true },
  { phrase: 'afwezig', languages: ['nl'], alone: false },
  { phrase: 'niet op kantoor', languages: ['nl'], alone: false },
  // Spanish
  { phrase: 'respuesta automática', languages: ['es'], alone: false, machine: true },
  { phrase: 'respuesta automatica', languages: ['es'], alone: false, machine: true },
  { phrase: 'fuera de la oficina', languages: ['es'], alone: false },
  { phrase: 'fuera de oficina', languages: ['es'], alone: false },
  // Italian
  { phrase: 'risposta automatica', languages: ['it'], alone: false, machine: true },
  { phrase: 'fuori sede', languages: ['it'], alone: false },
  { phrase: 'fuori ufficio', languages: ['it'], alone: false },
  // Portuguese
  { phrase: 'resposta automática', languages: ['pt'], alone: false, machine: true },
  { phrase: 'resposta automatica', languages: ['pt'], alone: false, machine: true },
  { phrase: 'fora do escritório', languages: ['pt'], alone: false },
  { phrase: 'ausente do escritório', languages: ['pt'], alone: false },
  // Swedish
  { phrase: 'automatiskt svar', languages: ['sv'], alone: false, machine: true },
  { phrase: 'frånvaromeddelande', languages: ['sv'], alone: false, machine: true },
  { phrase: 'frånvarande', languages: ['sv'], alone: false },
  // Danish and Norwegian (Bokmål) share these.
  { phrase: 'automatisk svar', languages: ['da', 'no'], alone: false, machine: true },
  { phrase: 'autosvar', languages: ['sv', 'da', 'no'], alone: false, machine: true },
  { phrase: 'ikke på kontoret', languages: ['da', 'no'], alone: false },
  { phrase: 'fraværende', languages: ['da', 'no'], alone: false },
  // Finnish
  { phrase: 'automaattinen vastaus', languages: ['fi'], alone: false, machine: true },
  { phrase: 'poissa toimistolta', languages: ['fi'], alone: false },
  // Polish
  { phrase: 'odpowiedź automatyczna', languages: ['pl'], alone: false, machine: true },
  { phrase: 'automatyczna odpowiedź', languages: ['pl'], alone: false, machine: true },
  { phrase: 'autoodpowiedź', languages: ['pl'], alone: false, machine: true },
  { phrase: 'poza biurem', languages: ['pl'], alone: false },
  // Others Outlook writes, seen in the same mailboxes.
  { phrase: 'automatická odpověď', languages: ['cs'], alone: false, machine: true },
  { phrase: 'otomatik yanıt', languages: ['tr'], alone: false, machine: true },
  { phrase: 'автоматический ответ', languages: ['ru'], alone: false, machine: true },
  { phrase: '自动回复', languages: ['zh'], alone: false, machine: true },
  { phrase: '自動回覆', languages: ['zh-Hant'], alone: false, machine: true },
  { phrase: '自動応答', languages: ['ja'], alone: false, machine: true },
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

/**
 * Tags a mail gateway or spam filter puts in front of the subject of mail from outside
 * ("[EXTERNAL]", "[EXTERN]", "[Ext]", "EXTERNAL:", "*EXTERNAL*", "[SPAM]", "[Suspected Spam]",
 * "[CAUTION]" …): the label behind them is still the label.
 */
const gatewayTag = /^(?:[[(] ?\*{0,3} ?(?:external|extern|externe|externo|esterno|ext|external (?:email|e-mail|mail|message|sender)|caution(?: - external)?|warning|spam|suspected spam|possible spam|probable spam|suspicious|secure|encrypt) ?\*{0,3} ?[\])]|\*{1,3} ?(?:external|extern|spam) ?\*{1,3}|(?:external|extern|ext|spam|caution) ?[:：])\s*/;

/** The subject without the reply prefixes clients add in front of it and the gateway tags (normalized). */
export function withoutReplyPrefixes(subject: string): string {
  return stripped(subject).rest;
}

/** The normalized subject without reply prefixes and gateway tags, and whether a reply prefix was among them. */
function stripped(subject: string): { rest: string; replied: boolean } {
  let rest = normalized(subject);
  let replied = false;
  // At most a few rounds: each removes one prefix or tag; a subject of 1,000 "Re:" is cut at subjectHead anyway.
  for (let i = 0; i < 20; i++) {
    const reply = replyPrefix.exec(rest);
    if (reply) replied = true;
    const match = reply ?? gatewayTag.exec(rest);
    if (!match) break;
    rest = rest.slice(match[0].length);
  }
  return { rest, replied };
}

/** An auto-reply label found at the start of a subject. */
export interface AutoReplyLabel {
  entry: AutoReplySubject;
  /** A reply prefix stood before it ("Re: Automatic reply: …"): a person answering an auto-reply, unless a stronger sign says otherwise. */
  replied: boolean;
}

/**
 * The table's entry whose phrase labels this subject (at its start, after reply prefixes and
 * gateway tags; followed by a colon, in brackets, or alone; a machine label also in Exchange's
 * "<label> <of …>:" shape), or undefined. The longest phrase wins, so "Out of Office
 * AutoReply:" is the Exchange 2003 entry, not the weaker "Out of office".
 */
export function autoReplyLabel(subject: string): AutoReplyLabel | undefined {
  const { rest, replied } = stripped(subject);
  let best: AutoReplySubject | undefined;
  for (const entry of autoReplySubjects) {
    if (!labels(rest, entry)) continue;
    if (!best || entry.phrase.length > best.phrase.length) best = entry;
  }
  return best ? { entry: best, replied } : undefined;
}

/** The table's entry that labels this subject (see autoReplyLabel), or undefined. */
export function autoReplySubject(subject: string): AutoReplySubject | undefined {
  return autoReplyLabel(subject)?.entry;
}

/**
 * Exchange's localized out-of-office label: the machine label, a linking word and at most a few
 * more words, then the colon — "Respuesta automática de Fuera de la oficina:", "Réponse
 * automatique d'absence du bureau :", "Resposta automática de Ausência Temporária:",
 * "Automatic reply from Kim:". Read on at most 60 characters after the label.
 */
const exchangeOf = /^ (?:(?:of|from|de|du|des|da|do|di|del|della|von|vom|van|från|av|fra|od|ze|z|от) |d'|d’)([^:：]{1,50})[:：]/;

/** True when `entry.phrase` stands at the start of `rest` as a label: "phrase:", "[phrase]", "(phrase)", the whole of it, or a machine label in Exchange's "<phrase> <of …>:" shape. */
function labels(rest: string, entry: AutoReplySubject): boolean {
  const phrase = entry.phrase;
  if (rest.startsWith(phrase)) {
    const tail = rest.slice(phrase.length);
    const after = tail.trimStart();
    if (after === '' || after.startsWith(':') || after.startsWith('：')) return true;
    if (!entry.machine) return false;
    const shape = exchangeOf.exec(tail.slice(0, 60));
    return shape !== null && shape[1]!.trim().split(' ').length <= 5;
  }
  const open = rest[0];
  if (open !== '[' && open !== '(') return false;
  const inner = rest.slice(1).trimStart();
  return inner.startsWith(phrase) && inner.slice(phrase.length).trimStart().startsWith(open === '[' ? ']' : ')');
}
