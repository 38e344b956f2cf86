import { describe, expect, it } from 'vitest';
import { titleOf } from '../../src/inbound/inbound-rules.js';
import { fromFirstHeaderLine } from '../../src/inbound/ingest-message.js';
import { htmlForText } from '../../src/inbound/html-for-text.js';
import { mailboxesIn } from '../../src/inbound/mailbox-list.js';
import { resolveSender } from '../../src/inbound/message-sender.js';
import { decodeHeaderValue, parseHeaderBlock } from '../../src/mime/header-block.js';
import { addressIn } from '../../src/inbound/parse-message.js';
import { autoReplySubject } from '../../src/inbound/auto-reply-subjects.js';
import { noticeSubject } from '../../src/inbound/delivery-notice.js';
import { replyPrefixes } from '../../src/inbound/reply-prefixes.js';
import { stripQuotedHtml } from '../../src/inbound/strip-quoted-html.js';
import { stripQuoted } from '../../src/inbound/strip-quoted.js';
import { seededRandom } from '../helpers/hostile-messages.js';
import { bySize } from '../helpers/reliability-tier.js';

// The hostile-inbound suite found regular expressions in the inbound path that backtracked
// quadratically: a 1 MB header or body stalled `mailctl daemon --once` for minutes to hours.
// They were replaced by linear code. This file proves the replacements (1) give exactly what
// the old expressions gave, on seeded random strings made of the characters that matter,
// and (2) stay fast on the shapes that stalled the old ones. stripQuoted is no longer compared
// with its old expression: issue 16 changed what it answers on purpose (interleaved replies keep
// their new lines, twelve languages); it keeps only lines of its input, in order.

// Issue 16 widened the prefixes a title loses (reply-prefixes.ts) and keeps list tags: the
// reference is the same rule written with regular expressions (slow, but these strings are short).
const prefixRe = new RegExp(`^\\s*(?:${replyPrefixes.map((p) => p.prefix).join('|')})(?![\\p{L}\\p{M}])\\s{0,4}(?:(?:\\[\\d{1,4}\\]|\\(\\d{1,4}\\)|\\^\\d{1,4})\\s{0,4})?[:\\uff1a]`, 'iu');
const tagRe = /^\s*(\[[^[\]]{1,63}\])/u;

const old = {
  address: (value: string) => {
    const match = /<([^<>\s]+@[^<>\s]+)>/.exec(value) ?? /([^\s<>",;:]+@[^\s<>",;:]+)/.exec(value);
    return match ? match[1]!.toLowerCase() : null;
  },
  title: (subject: string) => {
    const s = subject.replace(/\s*\[ref:[A-Za-z0-9_\-\s]+\]\s*/g, ' ');
    const kept: string[] = [];
    let rest = s;
    let removed = false;
    for (;;) {
      const prefix = prefixRe.exec(rest);
      if (prefix) {
        rest = rest.slice(prefix[0].length);
        removed = true;
        continue;
      }
      const tag = tagRe.exec(rest);
      if (!tag) break;
      kept.push(tag[1]!);
      rest = rest.slice(tag[0].length);
    }
    return (removed ? [...kept, rest.trim()].filter(Boolean).join(' ') : s.trim()) || '(no subject)';
  },
  embedded: (text: string) => text.replace(/^[\s\S]*?(?=^[A-Za-z-]+:)/m, ''),
};

const atoms = ['<', '>', '@', ' ', '  ', '\t', '"', ',', ';', ':', 'a', 'B', 'z9', '[ref:', '[ref: ', ']', 'Ab12_-', '-', '\n', '\r', '\r\n', '\u2028', '\u00a0', '\ufeff',
  'Am ', 'am ', ' schrieb ', ' SCHRIEB ', 'RE:', 'fw :', 'Aw: ', 'On ', ' wrote:', 'From: ', 'Sent: ', 'Date: ', '----- Original Message -----', '__________', 'é', 'ſ', 'İ', 'X-Mailctl-Ref:',
  ' skrev ', 'Von: ', 'Gesendet: ', 'Le ', ' a écrit :', '<blockquote type="cite">', '<div id="divRplyFwdMsg">', '</div>', '<!--',
  'RE[2]:', 'Re^2', '(3)', 'Antw:', 'TR :', '回复', '：', '[support]', 'Odp: ', 'I:', 'Απ:', 'ΣΧΕΤ'];

describe('the inbound parsing helpers: linear, and the same answers as the expressions they replaced', () => {
  it('agree with the old expressions on seeded random strings', () => {
    const cases = bySize(300_000, 40_000);
    const rnd = seededRandom(8);
    const checked = { address: 0, positiveAddress: 0, title: 0, strippedSomething: 0 };
    for (let i = 0; i < cases; i++) {
      let s = '';
      for (let n = Math.floor(rnd() * 16); n > 0; n--) s += atoms[Math.floor(rnd() * atoms.length)];
      expect(addressIn(s), JSON.stringify(s)).toBe(old.address(s));
      mailboxesIn(s, (raw) => raw); // never throws
      expect(titleOf(s), JSON.stringify(s)).toBe(old.title(s));
      const kept = stripQuoted(s);
      if (keptInOrder(kept, s)) checked.strippedSomething += kept === s.replace(/\r\n?/g, '\n').trim() ? 0 : 1;
      else expect.fail(`stripQuoted made a line that was not in ${JSON.stringify(s)}: ${JSON.stringify(kept)}`);
      stripQuotedHtml(s);
      expect(fromFirstHeaderLine(s), JSON.stringify(s)).toBe(old.embedded(s));
      checked.address++;
      if (old.address(s) !== null) checked.positiveAddress++;
      if (old.title(s) !== s.trim()) checked.title++;
    }
    // The random strings reach the interesting branches, not only the "no match" one.
    expect(checked.positiveAddress).toBeGreaterThan(cases / 100);
    expect(checked.title).toBeGreaterThan(cases / 50);
    expect(checked.strippedSomething).toBeGreaterThan(cases / 50);
    console.log(`helpers vs old expressions: ${cases} strings agree (${checked.positiveAddress} with an address, ${checked.title} titles changed, ${checked.strippedSomething} bodies cut)`);
  }, 600_000);

  it('take well under a second on the 1 MB shapes that stalled the old expressions for minutes to hours', () => {
    const mb = 1024 * 1024;
    const shapes: Array<[string, () => unknown]> = [
      ['address: From without "@"', () => addressIn('a'.repeat(mb))],
      ['address: "<a@a@a@…" without ">"', () => addressIn(`<${'a@'.repeat(mb / 2)}`)],
      ['mailbox list: "<<<<…"', () => mailboxesIn('<'.repeat(mb), (raw) => raw)],
      ['mailbox list: an unclosed quote, then escaped quotes', () => mailboxesIn(`"${'\\"'.repeat(mb / 2)}`, (raw) => raw)],
      ['mailbox list: "((((…"', () => mailboxesIn('('.repeat(mb), (raw) => raw)],
      ['mailbox list: "a . a . …@x"', () => mailboxesIn(`${'a . '.repeat(mb / 4)}@x`, (raw) => raw)],
      ['mailbox list: 200,000 mailboxes', () => mailboxesIn('a@b.c, '.repeat(mb / 7), (raw) => raw)],
      ['mailbox list: "g:g:g:…"', () => mailboxesIn('g:'.repeat(mb / 2), (raw) => raw)],
      ['title: "Re: " repeated', () => titleOf('Re: '.repeat(mb / 4))],
      ['title: "[a] " repeated', () => titleOf('[a] '.repeat(mb / 4))],
      ['title: "Re" and spaces', () => titleOf(`Re${' '.repeat(mb)}:`)],
      ['title: a run of spaces', () => titleOf(`a${' '.repeat(mb)}b`)],
      ['title: "[ref:" repeated', () => titleOf('[ref: '.repeat(mb / 6))],
      ['body: spaces not at the end', () => stripQuoted(`${' '.repeat(mb)}x`)],
      ['body: "Am schrieb x schrieb x …"', () => stripQuoted(`Am${' schrieb x'.repeat(mb / 10)}`)],
      ['body: "On … wrote:" around 1 MB', () => stripQuoted(`On ${'x '.repeat(mb / 2)} wrote:\n> q`)],
      ['body: "Den skrev skrev …:"', () => stripQuoted(`Den${' skrev 1'.repeat(mb / 8)}:`)],
      ['body: short "On 1" lines (wrapped attribution checks)', () => stripQuoted('On 1, x\n'.repeat(mb / 8))],
      ['body: "From:" lines', () => stripQuoted('From: x\n'.repeat(mb / 8))],
      ['body: underscore lines over blank runs', () => stripQuoted('__________\n\n\n\n\n\n'.repeat(mb / 16))],
      ['body: dashes', () => stripQuoted(`--${'-'.repeat(mb)} Original Message`)],
      ['body: attribution, blanks, no quote', () => stripQuoted(`On 1 Jan, Pat wrote:${'\n'.repeat(mb)}x`)],
      ['html: 1 MB of nested divs', () => stripQuotedHtml('<div>'.repeat(mb / 5))],
      ['html: nested divs, then stray closes', () => stripQuotedHtml('<div>'.repeat(mb / 12) + '</span>'.repeat(mb / 14))],
      ['html: nested Gmail containers', () => stripQuotedHtml('<div class="gmail_quote">'.repeat(mb / 25))],
      ['html: nested cite blockquotes after a text', () => stripQuotedHtml('On 1 Jan, Pat wrote:<blockquote type="cite">'.repeat(mb / 45))],
      ['html: spans then one close div', () => stripQuotedHtml(`<div>${'<span>'.repeat(mb / 6)}</div>`.repeat(2))],
      ['html: unclosed scripts', () => stripQuotedHtml('<script>'.repeat(mb / 8))],
      ['html: unclosed comments and quotes', () => stripQuotedHtml(`${'<!--'.repeat(mb / 8)}<div class="${'a'.repeat(mb / 2)}`)],
      ['html: a 1 MB style', () => stripQuotedHtml(`<div style="${'border-top: '.repeat(mb / 12)}">`)],
      ['html: "<a" without ">"', () => stripQuotedHtml('<a'.repeat(mb / 2))],
      ['sender: a From of 150,000 mailboxes', () => resolveSender(parseHeaderBlock(`From: ${'a@b.c,'.repeat(150_000)}\r\n\r\n`), (raw) => raw)],
      ['sender: "\"a <" repeated', () => mailboxesIn(`"${'a <'.repeat(mb / 3)}"`, (raw) => raw)],
      ['title: "(fwd)" repeated', () => titleOf(`x${' (fwd)'.repeat(mb / 6)}`)],
      ['title: spaces before "(fwd)"', () => titleOf(`x${' '.repeat(mb)}(fwd)`)],
      ['header: unknown-8bit encoded words', () => decodeHeaderValue('=?unknown-8bit?Q?=FC?= '.repeat(mb / 24))],
      ['header: "=?" repeated', () => decodeHeaderValue('=?'.repeat(mb / 2))],
      ['html for text: unclosed scripts', () => htmlForText('<script>'.repeat(mb / 8))],
      ['html for text: scripts without ">"', () => htmlForText('<script'.repeat(mb / 7))],
      ['html for text: "=\"data:" unclosed', () => htmlForText('<img src="data:'.repeat(mb / 15))],
      ['html for text: unquoted data: values', () => htmlForText('<img src=data:x '.repeat(mb / 16))],
      ['html for text: "=" and spaces', () => htmlForText(`=${' '.repeat(mb)}x`.repeat(2))],
      ['bounce: 1 MB of blank lines', () => fromFirstHeaderLine('\n'.repeat(mb))],
      ['auto-reply subject: "[EXTERNAL] Re: " repeated', () => autoReplySubject('[EXTERNAL] Re: '.repeat(mb / 15))],
      ['auto-reply subject: "Automatic reply of x x x …" without a colon', () => autoReplySubject(`Automatic reply of ${'x '.repeat(mb / 2)}`)],
      ['auto-reply subject: "[ ** " repeated', () => autoReplySubject('[ ** '.repeat(mb / 5))],
      ['notice subject: "entrega retrasada " repeated', () => noticeSubject('entrega retrasada '.repeat(mb / 18))],
    ];
    const timings: string[] = [];
    for (const [name, run] of shapes) {
      const start = performance.now();
      run();
      const ms = performance.now() - start;
      timings.push(`${name} ${ms.toFixed(0)} ms`);
      // The old expressions took minutes to hours here; 2 s is generous on a loaded machine.
      expect(ms, name).toBeLessThan(2000);
    }
    console.log(timings.join('\n'));
  });
});

/** Every line of `kept` is a line of `input`, in the same order (stripping only removes lines). */
function keptInOrder(kept: string, input: string): boolean {
  if (kept === '') return true;
  const lines = input.replace(/\r\n?/g, '\n').split('\n');
  let at = 0;
  const keptLines = kept.split('\n');
  for (let k = 0; k < keptLines.length; k++) {
    const line = keptLines[k]!;
    // The first and last kept lines may be trimmed.
    while (at < lines.length && !(lines[at] === line || ((k === 0 || k === keptLines.length - 1) && lines[at]!.trim() === line.trim()))) at++;
    if (at === lines.length) return false;
    at++;
  }
  return true;
}

