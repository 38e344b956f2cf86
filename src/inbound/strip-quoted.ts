import { headerLabelKind, isAttributionLine, isOriginalMessageLine, isWrappedAttribution } from './quote-languages.js';

/**
 * The new text of a reply: the sender's lines without the quoted history, in the languages of
 * quote-languages.ts.
 *
 * - `>` quoted lines go wherever they are, with the attribution line directly above them
 *   ("On … wrote:", blank lines between allowed): a bottom-posted or interleaved reply keeps
 *   every line written between and below the quotes.
 * - History that is not `>` quoted ends the new text: "-----Original Message-----" and its
 *   translations, Outlook's header block (From:/Sent: or From: and two more header lines, in any
 *   language of the table; a line of underscores above it goes too), and an attribution line with
 *   no quote below it.
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
    if (isOriginalMessageLine(line) || isHeaderBlockAt(lines, i) || (isUnderscoreLine(line) && isHeaderBlockAt(lines, nextNonBlank(lines, i + 1)))) {
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

/**
 * Outlook's header block of the message replied to: a From line followed by its Sent (or Date)
 * line, or by two more header lines (Gmail's forward block: From, Date, Subject, To).
 */
function isHeaderBlockAt(lines: string[], i: number): boolean {
  if (i >= lines.length || headerLabelKind(lines[i]!) !== 'from') return false;
  const next = headerLabelKind(lines[i + 1] ?? '');
  if (next === 'sent') return true;
  return next !== null && next !== 'from' && headerLabelKind(lines[i + 2] ?? '') !== null;
}
