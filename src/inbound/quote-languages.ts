/**
 * How mail clients introduce quoted history, per language: the attribution line ("On … wrote:"),
 * the Outlook header block labels (From:/Sent:/To:/Subject: as Outlook translates them) and the
 * "-----Original Message-----" separator. Written from what the clients emit: Gmail (web and
 * Android), Apple Mail (macOS and iOS), Thunderbird, Outlook (desktop, web, mobile) and Samsung
 * Email, in each language below. Every matcher here looks at one line (or two joined) with
 * startsWith/endsWith/indexOf only: linear on a hostile 1 MB line, no regex that backtracks.
 */

/**
 * One attribution form: the line (lower-cased, NBSP as space, " :" as ":") starts with `start`,
 * holds `middle` after it, ends with `end`. Without a start word a form is weaker, so the line
 * must also hold a digit or "@" (a date or an address): "As you wrote:" is new text.
 */
export interface AttributionForm {
  start?: string;
  middle?: string;
  end: string;
  /** A line the client writes, as the tests use it. */
  example: string;
}

export interface QuoteLanguage {
  language: string;
  attributions: AttributionForm[];
  /** Outlook's header block labels, in the order Outlook writes them. */
  headers: { from: string[]; sent: string[]; to: string[]; cc: string[]; subject: string[] };
  /** The words between the dashes of "-----Original Message-----" (Outlook, Samsung, Zimbra's "----- Mail original -----"). */
  originalMessage: string[];
  /** The words between the dashes of a forward line: Gmail's "---------- Forwarded message ---------", Thunderbird's "-------- Forwarded Message --------", Zimbra's and Yahoo's "----- Forwarded Message -----". */
  forwarded: string[];
  /** Apple Mail's forward line, the whole line ("Begin forwarded message:"), lower case, " :" as ":". */
  forwardIntro: string[];
}

export const quoteLanguages: QuoteLanguage[] = [
  {
    language: 'English',
    attributions: [
      { start: 'on ', end: ' wrote:', example: 'On Tue, 3 Mar 2026 at 10:02, Acme Support <support@acme.test> wrote:' },
      { end: ' wrote:', example: 'Acme Support <support@acme.test> wrote:' },
    ],
    headers: { from: ['from'], sent: ['sent', 'date'], to: ['to'], cc: ['cc', 'bcc'], subject: ['subject'] },
    originalMessage: ['original message'],
    forwarded: ['forwarded message'],
    forwardIntro: ['begin forwarded message:'],
  },
  {
    language: 'German',
    attributions: [
      { start: 'am ', middle: ' schrieb ', end: ':', example: 'Am Di., 3. März 2026 um 10:02 Uhr schrieb Acme Support <support@acme.test>:' },
      { end: ' schrieb:', example: 'Acme Support <support@acme.test> schrieb:' },
      // Yahoo: "Am Dienstag, 3. März 2026, 10:02:00 MEZ hat Acme Support <…> Folgendes geschrieben:"
      { start: 'am ', end: ' folgendes geschrieben:', example: 'Am Dienstag, 3. März 2026, 10:02:00 MEZ hat Acme Support <support@acme.test> Folgendes geschrieben:' },
    ],
    headers: { from: ['von'], sent: ['gesendet', 'datum'], to: ['an'], cc: ['cc', 'kopie'], subject: ['betreff'] },
    originalMessage: ['ursprüngliche nachricht', 'original-nachricht', 'originalnachricht', 'ursprüngliche mail'],
    forwarded: ['weitergeleitete nachricht', 'weitergeleitete mail', 'weitergeleitete e-mail'],
    forwardIntro: ['anfang der weitergeleiteten nachricht:', 'anfang der weitergeleiteten e-mail:'],
  },
  {
    language: 'French',
    attributions: [
      { start: 'le ', end: ' a écrit:', example: 'Le mar. 3 mars 2026 à 10:02, Acme Support <support@acme.test> a écrit :' },
      { end: ' a écrit:', example: 'Acme Support <support@acme.test> a écrit :' },
    ],
    headers: { from: ['de'], sent: ['envoyé', 'date'], to: ['à', 'pour'], cc: ['cc', 'copie à'], subject: ['objet', 'sujet'] },
    originalMessage: ["message d'origine", 'message d’origine', 'message original', 'mail original'],
    forwarded: ['message transféré', 'mail transféré'],
    forwardIntro: ['début du message réexpédié:', 'début du message transféré:'],
  },
  {
    language: 'Dutch',
    attributions: [
      { start: 'op ', middle: ' schreef ', end: ':', example: 'Op di 3 mrt 2026 om 10:02 schreef Acme Support <support@acme.test>:' },
      { start: 'op ', end: ' het volgende geschreven:', example: 'Op 3 mrt. 2026, om 10:02 heeft Acme Support <support@acme.test> het volgende geschreven:' },
      { end: ' schreef:', example: 'Acme Support <support@acme.test> schreef:' },
    ],
    headers: { from: ['van'], sent: ['verzonden', 'datum'], to: ['aan'], cc: ['cc'], subject: ['onderwerp'] },
    originalMessage: ['oorspronkelijk bericht', 'origineel bericht'],
    forwarded: ['doorgestuurd bericht'],
    forwardIntro: ['begin doorgestuurd bericht:'],
  },
  {
    language: 'Spanish',
    attributions: [
      { start: 'el ', end: ' escribió:', example: 'El mar, 3 mar 2026 a las 10:02, Acme Support (<support@acme.test>) escribió:' },
      { end: ' escribió:', example: 'Acme Support <support@acme.test> escribió:' },
    ],
    headers: { from: ['de'], sent: ['enviado el', 'enviado', 'enviados', 'fecha'], to: ['para'], cc: ['cc', 'copia'], subject: ['asunto'] },
    originalMessage: ['mensaje original'],
    forwarded: ['mensaje reenviado'],
    forwardIntro: ['inicio del mensaje reenviado:'],
  },
  {
    language: 'Italian',
    attributions: [
      { start: 'il ', end: ' ha scritto:', example: 'Il giorno mar 3 mar 2026 alle ore 10:02 Acme Support <support@acme.test> ha scritto:' },
      { end: ' ha scritto:', example: 'In data 3 marzo 2026 10:02, Acme Support <support@acme.test> ha scritto:' },
    ],
    headers: { from: ['da', 'mittente'], sent: ['inviato', 'data'], to: ['a', 'destinatario'], cc: ['cc'], subject: ['oggetto'] },
    originalMessage: ['messaggio originale'],
    forwarded: ['messaggio inoltrato'],
    forwardIntro: ['inizio messaggio inoltrato:'],
  },
  {
    language: 'Portuguese',
    attributions: [
      { start: 'em ', end: ' escreveu:', example: 'Em ter., 3 de mar. de 2026 às 10:02, Acme Support <support@acme.test> escreveu:' },
      { end: ' escreveu:', example: 'Acme Support <support@acme.test> escreveu:' },
    ],
    headers: { from: ['de'], sent: ['enviada em', 'enviado em', 'enviada', 'enviado', 'enviadas', 'data'], to: ['para'], cc: ['cc'], subject: ['assunto'] },
    originalMessage: ['mensagem original'],
    forwarded: ['mensagem encaminhada', 'mensagem reencaminhada'],
    forwardIntro: ['início da mensagem reencaminhada:', 'início da mensagem encaminhada:'],
  },
  {
    language: 'Swedish',
    attributions: [
      { start: 'den ', middle: ' skrev ', end: ':', example: 'Den tis 3 mars 2026 kl 10:02 skrev Acme Support <support@acme.test>:' },
      { middle: ' skrev ', end: ':', example: '3 mars 2026 kl. 10:02 skrev Acme Support <support@acme.test>:' },
    ],
    headers: { from: ['från'], sent: ['skickat', 'datum'], to: ['till'], cc: ['kopia', 'cc'], subject: ['ämne'] },
    originalMessage: ['ursprungligt meddelande', 'originalmeddelande'],
    forwarded: ['vidarebefordrat meddelande'],
    forwardIntro: ['vidarebefordrat mejl:', 'början på vidarebefordrat meddelande:'],
  },
  {
    language: 'Danish',
    attributions: [
      { start: 'den ', middle: ' skrev ', end: ':', example: 'Den tir. 3. mar. 2026 kl. 10.02 skrev Acme Support <support@acme.test>:' },
      { middle: ' skrev ', end: ':', example: '3. mar. 2026 kl. 10.02 skrev Acme Support <support@acme.test>:' },
    ],
    headers: { from: ['fra'], sent: ['sendt', 'dato'], to: ['til'], cc: ['cc'], subject: ['emne'] },
    originalMessage: ['oprindelig meddelelse', 'original meddelelse', 'oprindelig besked'],
    forwarded: ['videresendt meddelelse', 'videresendt besked'],
    forwardIntro: ['videresendt besked:', 'start på videresendt besked:'],
  },
  {
    language: 'Norwegian',
    attributions: [
      { start: 'den ', middle: ' skrev ', end: ':', example: 'Den tir. 3. mar. 2026 kl. 10:02 skrev Acme Support <support@acme.test>:' },
      { middle: ' skrev ', end: ':', example: 'tir. 3. mar. 2026 kl. 10:02 skrev Acme Support <support@acme.test>:' },
    ],
    headers: { from: ['fra'], sent: ['sendt', 'dato'], to: ['til'], cc: ['kopi', 'cc'], subject: ['emne'] },
    originalMessage: ['opprinnelig melding', 'originalmelding'],
    forwarded: ['videresendt melding'],
    forwardIntro: ['videresendt melding:', 'begynnelse på videresendt melding:'],
  },
  {
    language: 'Finnish',
    attributions: [
      { end: ' kirjoitti:', example: 'ti 3.3.2026 klo 10.02 Acme Support (<support@acme.test>) kirjoitti:' },
      { middle: ' kirjoitti ', end: ':', example: 'Acme Support kirjoitti 3.3.2026 klo 10.02:' },
    ],
    headers: { from: ['lähettäjä'], sent: ['lähetetty', 'päivämäärä'], to: ['vastaanottaja'], cc: ['kopio'], subject: ['aihe'] },
    originalMessage: ['alkuperäinen viesti'],
    forwarded: ['välitetty viesti'],
    forwardIntro: ['välitetty viesti alkaa:'],
  },
  {
    language: 'Polish',
    attributions: [
      { start: 'w dniu ', end: ' pisze:', example: 'W dniu 3.03.2026 o 10:02, Acme Support pisze:' },
      // Apple Mail (macOS and iOS).
      { start: 'wiadomość napisana przez ', middle: ' w dniu ', end: ':', example: 'Wiadomość napisana przez Acme Support <support@acme.test> w dniu 03.03.2026, o godz. 10:02:' },
      { end: ' napisał(a):', example: 'wt., 3 mar 2026 o 10:02 Acme Support <support@acme.test> napisał(a):' },
      { end: ' napisał:', example: 'Dnia 3 marca 2026 10:02 Acme Support <support@acme.test> napisał:' },
      { end: ' napisała:', example: 'Dnia 3 marca 2026 10:02 Anna <anna@acme.test> napisała:' },
    ],
    headers: { from: ['od', 'nadawca'], sent: ['wysłano', 'wysłane', 'data'], to: ['do', 'adresat'], cc: ['dw', 'kopia'], subject: ['temat'] },
    originalMessage: ['wiadomość oryginalna', 'oryginalna wiadomość'],
    forwarded: ['wiadomość przekazana', 'przekazana wiadomość'],
    forwardIntro: ['początek przekazywanej wiadomości:'],
  },
];

/** Longer lines are never an attribution or a separator: keeps every check on a hostile line O(1). */
const maxMarkerLine = 2000;

const forms = quoteLanguages.flatMap((l) => l.attributions);
const startWords = [...new Set(forms.flatMap((f) => (f.start ? [f.start] : [])))];

/** A line as the matchers see it: trimmed, lower case, NBSP as space, white space before the final ":" dropped (French "a écrit :"). */
function normalized(line: string): string {
  let s = line.replace(/[\u00a0\u202f\u2007]/g, ' ').trim().toLowerCase();
  if (s.endsWith(':')) s = `${s.slice(0, -1).trimEnd()}:`;
  return s;
}

function matchesForm(s: string, form: AttributionForm): boolean {
  if (!s.endsWith(form.end)) return false;
  let from = 0;
  if (form.start) {
    if (!s.startsWith(form.start)) return false;
    from = form.start.length;
  } else if (!/[0-9@]/.test(s)) {
    return false;
  }
  const endAt = s.length - form.end.length;
  if (endAt <= from) return false; // something between the start word and the end
  if (!form.middle) return true;
  // At least one character on each side of the middle word ("Am x schrieb y:"); the first
  // occurrence is the one to test: a later one only leaves less room before the end.
  const at = s.indexOf(form.middle, from + 1);
  return at >= 0 && at + form.middle.length < endAt;
}

/** The line (or the line with the next one joined, when a client wrapped it) is an attribution line of a language in the table. */
export function isAttributionLine(line: string): boolean {
  if (line.length > maxMarkerLine) return false;
  const s = normalized(line);
  return s.length > 0 && forms.some((form) => matchesForm(s, form));
}

/** An attribution wrapped over two lines ("On …, Pat <pat@acme.test>" / "wrote:"): only for forms with a start word. */
export function isWrappedAttribution(line: string, next: string): boolean {
  if (line.length > maxMarkerLine || next.length > 200 || next.trim() === '') return false;
  const first = normalized(line);
  if (!startWords.some((w) => first.startsWith(w))) return false;
  const s = normalized(`${line} ${next}`);
  // A date is in every wrapped attribution, and keeps "On Monday we met." / "He wrote:" new text.
  if (!/[0-9]/.test(s)) return false;
  return forms.some((form) => form.start !== undefined && matchesForm(s, form));
}

export type HeaderKind = 'from' | 'sent' | 'to' | 'cc' | 'subject';

const labels = new Map<string, HeaderKind>();
for (const l of quoteLanguages) for (const kind of ['from', 'sent', 'to', 'cc', 'subject'] as const) for (const label of l.headers[kind]) if (!labels.has(label)) labels.set(label, kind);
// "De" is From in French, Spanish and Portuguese; "Data" is the date in Italian, Portuguese and Polish:
// the first language in the table wins and the kinds agree, so one map serves all.

/**
 * The kind of an Outlook header line ("From: …", "Von: …", "De : …", "*From:* …" as Gmail writes
 * Outlook's bold labels in text): looks only at the first 40 characters.
 */
export function headerLabelKind(line: string): HeaderKind | null {
  const head = line.slice(0, 40);
  const colon = head.indexOf(':');
  if (colon < 1) return null;
  const label = head.slice(0, colon).replace(/[*\u00a0\u202f]/g, ' ').trim().toLowerCase();
  return labels.get(label) ?? null;
}

const separators = new Set(quoteLanguages.flatMap((l) => [...l.originalMessage, ...l.forwarded]));
const forwardIntros = new Set(quoteLanguages.flatMap((l) => l.forwardIntro));

/**
 * A separator line above quoted or forwarded history, in a language of the table:
 * "-----Original Message-----", "-------- Ursprüngliche Nachricht --------", Zimbra's
 * "----- Mail original -----", Gmail's "---------- Forwarded message ---------", Thunderbird's
 * "-------- Weitergeleitete Nachricht --------", and Apple Mail's "Begin forwarded message:".
 */
export function isSeparatorLine(line: string): boolean {
  if (line.length > 200) return false;
  const s = line.trim();
  if (!s.startsWith('--')) return forwardIntros.has(normalized(s));
  let a = 0;
  let b = s.length;
  while (a < b && s[a] === '-') a++;
  while (b > a && s[b - 1] === '-') b--;
  return separators.has(s.slice(a, b).replace(/[\u00a0\u202f]/g, ' ').trim().toLowerCase());
}

/** The separators of the table (see isSeparatorLine); the name the tests have used. */
export const isOriginalMessageLine = isSeparatorLine;
