import { type HeaderKind, headerLabelKind, isAttributionLine, isSeparatorLine, isWrappedAttribution } from './quote-languages.js';

/**
 * The new text of a reply: the sender's lines without the quoted history, in the languages of
 * quote-languages.ts.
 *
 * - `>` quoted lines go wherever they are, with the attribution line directly above them
 *   ("On … wrote:", blank lines between allowed): a bottom-posted or interleaved reply keeps
 *   every line written between and below the quotes.
 * - History that is not `>` quoted ends the new text: "-----Original Message-----", Zimbra's
 *   "----- Mail original -----", the forward lines of Gmail, Thunderbird, Yahoo and Apple Mail, and
 *   their translations; a header block (Outlook, GMX, Zimbra, Thunderbird, Gmail: From next to
 *   Sent/Date, or From among three header lines, labels in any order, a line wrapped at 76
 *   characters allowed; a line of underscores above it goes too), and an attribution line with no
 *   quote below it.
 * - Signatures stay ("Sent from my iPhone", "Von meinem iPhone gesendet", "Get Outlook for iOS"):
 *   they are the sender's own lines, and a rule that drops them also drops a real last line
 *   ("Best regards, Ann" above a phone number). Only history goes.
 *
 * Linear: each line is looked at a constant number of times, and every matcher is
 * startsWith/endsWith/indexOf on one line (a hostile 1 MB line costs one scan).
 */
export function stripQuoted(text: string): string {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const removed = new Uint8Array(lines.length);
  let end = lines.length;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (isQuoteLine(line)) {
      removed[i] = 1;
      continue;
    }
    if (isSeparatorLine(line) || isHeaderBlockAt(lines, i) || (isUnderscoreLine(line) && isHeaderBlockAt(lines, nextNonBlank(lines, i + 1)))) {
      end = i;
      break;
    }
    const attribution = isAttributionLine(line) ? 1 : isWrappedAttribution(line, lines[i + 1] ?? '') ? 2 : 0;
    if (attribution) {
      const quote = nextNonBlank(lines, i + attribution);
      if (quote < lines.length && isQuoteLine(lines[quote]!)) {
        removed.fill(1, i, quote);
        i = quote - 1;
        continue;
      }
      end = i;
      break;
    }
  }
  // The kept lines; blank lines left doubled (or leading) where quotes went are dropped.
  const out: string[] = [];
  let afterRemoved = false;
  for (let i = 0; i < end; i++) {
    if (removed[i]) {
      afterRemoved = true;
      continue;
    }
    const line = lines[i]!;
    const blank = line.trim() === '';
    if (blank && afterRemoved && (out.length === 0 || out[out.length - 1]!.trim() === '')) continue;
    if (!blank) afterRemoved = false;
    out.push(line);
  }
  // trim(), not replace(/\s+$/): the same characters, without the quadratic retries on a long
  // run of white space that does not end the text (a hostile body).
  return out.join('\n').trim();
}

/** `>` quoting, as every client writes it (RFC 3676 section 4.5), also indented by a few spaces. */
function isQuoteLine(line: string): boolean {
  return /^[ \t]{0,3}>/.test(line);
}

/** Outlook's plain-text separator above its header block. */
function isUnderscoreLine(line: string): boolean {
  return line.length <= 200 && /^_{10,}$/.test(line.trim());
}

function nextNonBlank(lines: string[], from: number): number {
  let i = from;
  while (i < lines.length && lines[i]!.trim() === '') i++;
  return i;
}

/** At most this many lines of one header block are looked at: keeps each check O(1) lines. */
const maxHeaderBlock = 16;

/**
 * A header block of the message replied to or forwarded, starting at line i: a run of header
 * lines in the languages of the table, in any order (Outlook: From, Sent, To, Subject; GMX: Sent
 * first; Zimbra: From, To, Sent; Thunderbird's forward: Subject, Date, From, To), where a From
 * line sits next to its Sent (or Date) line or among at least three header lines. A header wrapped
 * onto up to three more lines (Outlook's plain text at 76 characters: "From: A long name" /
 * "<a@b>") is part of the run.
 */
function isHeaderBlockAt(lines: string[], i: number): boolean {
  if (i >= lines.length || headerLabelKind(lines[i]!) === null) return false;
  let hasFrom = false;
  let fromNextToSent = false;
  let count = 0;
  let previous: HeaderKind | null = null;
  let wrapped = 0;
  for (let j = i; j < lines.length && j < i + maxHeaderBlock; j++) {
    const line = lines[j]!;
    const kind = headerLabelKind(line);
    if (kind !== null) {
      if ((previous === 'from' && kind === 'sent') || (previous === 'sent' && kind === 'from')) fromNextToSent = true;
      if (kind === 'from') hasFrom = true;
      count++;
      previous = kind;
      wrapped = 0;
    } else if (wrapped < 3 && isWrappedHeaderLine(line)) {
      wrapped++;
    } else {
      break;
    }
  }
  return hasFrom && (fromNextToSent || count >= 3);
}

/** The rest of a header line a client wrapped: not blank, not quoted, short. */
function isWrappedHeaderLine(line: string): boolean {
  return line.length <= 200 && line.trim() !== '' && !isQuoteLine(line);
}
