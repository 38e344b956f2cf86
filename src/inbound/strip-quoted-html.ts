import { isAttributionLine } from './quote-languages.js';

/**
 * An HTML body without its quoted history, for a message whose text comes from its HTML: call it
 * on the HTML before turning it into text, and only for notes that keep the new text.
 *
 * Removed, with what is inside them:
 * - Gmail: `blockquote.gmail_quote` and the attribution `div.gmail_attr` (an interleaved reply
 *   typed inside `div.gmail_quote` stays); a `div.gmail_quote` with no quote in it (a forward)
 *   goes whole, as the text rule drops a forwarded header block.
 * - Apple Mail and Thunderbird: `blockquote type="cite"`, Thunderbird's `div.moz-cite-prefix`;
 *   Yahoo's `div.yahoo_quoted`; new Outlook's `#mail-editor-reference-message-container`.
 * - An attribution line ("On … wrote:" in a language of quote-languages.ts) right before a
 *   removed quote, as Apple Mail writes it in an unmarked div.
 * Cut with everything after it (Outlook puts the original below, not inside):
 * - Outlook's `#divRplyFwdMsg` (with the `<hr>` right before it) and `#appendonsend`;
 *   Outlook desktop's header block, a div with `border-top:solid #E1E1E1` (or #B5C4DF, Outlook
 *   2007–2010).
 *
 * A plain `<blockquote>` stays: Gmail's "indent" writes one around the sender's own words.
 *
 * Not an HTML parser: a linear scan for tags (quoted attribute values, comments, raw-text
 * elements) with an open-element stack whose closes are amortised by a count per name, so deep or
 * unbalanced hostile nesting costs O(n). htmlparser2 (html-to-text's parser) was measured at 13 s
 * on 1 MB of nested divs (its stack is an array it unshifts).
 */
export function stripQuotedHtml(html: string): string {
  const cuts: Array<[number, number]> = [];
  const stack: Frame[] = [];
  const open = new Map<string, number>();
  const containers: Frame[] = [];
  let cutAt = html.length;
  /** The last run of inline text (between block tags): an attribution candidate. */
  let run: { start: number; end: number; text: string } | null = null;
  let current: { start: number; end: number; text: string } | null = null;
  let hr: { start: number; clean: boolean } | null = null;
  const endRun = () => {
    if (current && current.text.trim() !== '') run = current;
    current = null;
  };
  const remove = (start: number, end: number) => cuts.push([start, end]);

  let i = 0;
  scan: while (i < html.length) {
    const lt = html.indexOf('<', i);
    const textEnd = lt < 0 ? html.length : lt;
    if (textEnd > i) {
      const text = html.slice(i, textEnd);
      if (/\S/.test(text)) {
        hr = null;
        run = null; // text after a run ends the run's chance to be an attribution
        if (!current) current = { start: i, end: textEnd, text: '' };
        current.end = textEnd;
        if (current.text.length < 2000) current.text += text;
      }
    }
    if (lt < 0) break;
    const c = html[lt + 1];
    if (html.startsWith('<!--', lt)) {
      const close = html.indexOf('-->', lt + 4);
      i = close < 0 ? html.length : close + 3;
      continue;
    }
    if (c === '!' || c === '?') {
      const gt = html.indexOf('>', lt);
      i = gt < 0 ? html.length : gt + 1;
      continue;
    }
    const closing = c === '/';
    const tag = readTag(html, closing ? lt + 2 : lt + 1);
    if (!tag) {
      // A "<" that starts no tag is text.
      if (!current) current = { start: lt, end: lt + 1, text: '' };
      current.end = lt + 1;
      i = lt + 1;
      continue;
    }
    i = tag.end;
    const name = tag.name;
    if (!inline.has(name)) endRun();
    if (closing) {
      if ((open.get(name) ?? 0) === 0) continue; // a stray close tag: ignored, as browsers do
      // Close every element opened since this one (unclosed <p>, <div>…): each frame is popped once.
      for (;;) {
        const frame = stack.pop()!;
        open.set(frame.name, open.get(frame.name)! - 1);
        const end = frame.name === name ? tag.end : lt;
        closeFrame(frame, end);
        if (frame.name === name) break;
      }
      continue;
    }
    if (name === 'hr') {
      hr = { start: lt, clean: true };
      continue;
    }
    const attrs = tag.attrs;
    const id = (attrs.id ?? '').toLowerCase();
    const classes = (attrs.class ?? '').toLowerCase().split(/\s+/);
    if (id === 'divrplyfwdmsg' || id === 'x_divrplyfwdmsg') {
      cutAt = hr?.clean ? hr.start : lt;
      break scan;
    }
    if (id === 'appendonsend' || id === 'x_appendonsend' || (name === 'div' && isOutlookHeaderStyle(attrs.style))) {
      cutAt = lt;
      break scan;
    }
    hr = null;
    if (voidElements.has(name) || tag.selfClosing) continue;
    const frame: Frame = { name, start: lt, kind: null, sawQuote: false };
    const isQuote = (name === 'blockquote' && ((attrs.type ?? '').toLowerCase() === 'cite' || classes.includes('gmail_quote')))
      || (name === 'div' && (classes.includes('yahoo_quoted') || id === 'mail-editor-reference-message-container'));
    if (isQuote) {
      frame.kind = 'remove';
      const container = containers[containers.length - 1];
      if (container) container.sawQuote = true;
      // Apple Mail's "On … wrote:" sits in an unmarked div right above the quote.
      const candidate = run as { start: number; end: number; text: string } | null;
      if (candidate && isAttributionLine(decodeText(candidate.text))) remove(candidate.start, candidate.end);
      run = null;
    } else if (name === 'div' && (classes.includes('gmail_attr') || classes.includes('moz-cite-prefix'))) {
      frame.kind = 'remove';
    } else if (name === 'div' && classes.includes('gmail_quote')) {
      frame.kind = 'container';
      containers.push(frame);
    }
    stack.push(frame);
    open.set(name, (open.get(name) ?? 0) + 1);
    if (rawText.has(name)) {
      // <script>, <style>, <title>, <textarea>: their text holds no tags.
      const closeTag = new RegExp(`</${name}`, 'gi');
      closeTag.lastIndex = i;
      const found = closeTag.exec(html);
      i = found ? found.index : html.length;
    }
  }
  // Elements still open at the cut (or the end) end there.
  for (let f = stack.length - 1; f >= 0; f--) closeFrame(stack[f]!, Math.min(cutAt, html.length));

  function closeFrame(frame: Frame, end: number): void {
    if (frame.kind === 'remove') remove(frame.start, end);
    if (frame.kind === 'container') {
      if (containers[containers.length - 1] === frame) containers.pop();
      if (!frame.sawQuote) remove(frame.start, end);
    }
  }

  cuts.sort((a, b) => a[0] - b[0]);
  let out = '';
  let pos = 0;
  for (const [start, end] of cuts) {
    if (start >= cutAt) break;
    if (start > pos) out += html.slice(pos, start);
    pos = Math.max(pos, end);
  }
  if (pos < cutAt) out += html.slice(pos, cutAt);
  return out;
}

interface Frame {
  name: string;
  start: number;
  kind: 'remove' | 'container' | null;
  sawQuote: boolean;
}

/** Tags that do not end a line of text: an attribution's address sits in an <a>. */
const inline = new Set(['a', 'span', 'b', 'i', 'u', 'em', 'strong', 'font', 'small', 'big', 'sub', 'sup', 'o:p', 'abbr', 'code', 'wbr']);
const voidElements = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'param', 'source', 'track', 'wbr']);
const rawText = new Set(['script', 'style', 'title', 'textarea']);

interface Tag {
  name: string;
  attrs: Record<string, string>;
  selfClosing: boolean;
  /** Index after the ">". */
  end: number;
}

/** Attributes whose values the rules read; the others are skipped, not copied. */
const wanted = new Set(['id', 'class', 'style', 'type']);

/** The tag starting at `at` (just after "<" or "</"), or null when no tag name starts there. Each character is read once. */
function readTag(html: string, at: number): Tag | null {
  let p = at;
  while (p < html.length && /[A-Za-z0-9:_-]/.test(html[p]!)) p++;
  if (p === at || !/[A-Za-z]/.test(html[at]!)) return null;
  const name = html.slice(at, p).toLowerCase();
  const attrs: Record<string, string> = {};
  let selfClosing = false;
  while (p < html.length) {
    const ch = html[p]!;
    if (ch === '>') return { name, attrs, selfClosing, end: p + 1 };
    if (ch === '/' ) {
      selfClosing = html[p + 1] === '>';
      p++;
      continue;
    }
    if (/\s/.test(ch)) {
      p++;
      continue;
    }
    const nameStart = p;
    while (p < html.length && !/[\s/>=]/.test(html[p]!)) p++;
    const attr = html.slice(nameStart, p).toLowerCase();
    while (p < html.length && /\s/.test(html[p]!)) p++;
    let value = '';
    if (html[p] === '=') {
      p++;
      while (p < html.length && /\s/.test(html[p]!)) p++;
      const quote = html[p];
      if (quote === '"' || quote === "'") {
        const close = html.indexOf(quote, p + 1);
        const valueEnd = close < 0 ? html.length : close;
        if (wanted.has(attr)) value = html.slice(p + 1, valueEnd);
        p = close < 0 ? html.length : close + 1;
      } else {
        const valueStart = p;
        while (p < html.length && !/[\s>]/.test(html[p]!)) p++;
        if (wanted.has(attr)) value = html.slice(valueStart, p);
      }
    }
    if (wanted.has(attr) && !(attr in attrs)) attrs[attr] = value;
  }
  return { name, attrs, selfClosing, end: html.length };
}

/** Outlook desktop's header block: `border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm`. */
function isOutlookHeaderStyle(style: string | undefined): boolean {
  if (!style || style.length > 2000) return false;
  const s = style.toLowerCase().replace(/\s+/g, '');
  return s.includes('border-top:solid#e1e1e1') || s.includes('border-top:solid#b5c4df')
    || s.includes('border-top:1ptsolidrgb(225,225,225)') || s.includes('border-top:1.0ptsolid#e1e1e1');
}

/** The text of an attribution candidate: the few entities an attribution holds, white space as one space. */
function decodeText(text: string): string {
  return text.replace(/&lt;/gi, '<').replace(/&gt;/gi, '>').replace(/&amp;/gi, '&').replace(/&nbsp;|&#160;/gi, ' ')
    .replace(/&#(\d{1,6});/g, (_, d: string) => String.fromCodePoint(Math.min(Number(d), 0x10ffff)))
    .replace(/\s+/g, ' ');
}
