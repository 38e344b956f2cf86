import iconv from 'iconv-lite';

/**
 * The body an RTF document carries, for a message whose only body is Outlook's RTF (winmail.dat):
 * the HTML it encapsulates when it says `\fromhtml1` ([MS-OXRTFEX]: the HTML is the text
 * outside `\htmlrtf` … `\htmlrtf0` plus the `{\*\htmltag …}` groups), else its plain text
 * (`\fromtext`, or native RTF). One pass over the bytes, no regular expression over the whole
 * input: linear on hostile RTF. Control words and destinations per the RTF 1.9.1 specification:
 * `\par`/`\line` end lines, `\'hh` is a byte in the `\ansicpg` code page, `\uN` a UTF-16 unit
 * followed by `\ucN` fallback characters that are skipped; font and colour tables, pictures,
 * objects, document info and every unknown `{\*\…}` destination are skipped.
 */
export function rtfBody(rtf: Buffer): { kind: 'html' | 'text'; value: string } {
  const s = rtf.toString('latin1');
  const fromHtml = s.slice(0, 2048).includes('\\fromhtml');
  let codepage = 'windows-1252';
  const out: string[] = [];
  let bytes: number[] = [];
  const flush = () => {
    if (bytes.length === 0) return;
    out.push(iconv.decode(Buffer.from(bytes), codepage));
    bytes = [];
  };
  let state: GroupState = { skip: false, uc: 1, htmlrtf: false, htmltag: false };
  const stack: GroupState[] = [];
  let deeper = 0; // groups past maxDepth: counted, not kept
  let starred = false;
  let fallback = 0; // characters still to skip after \uN
  const visible = () => !state.skip && !(fromHtml && state.htmlrtf && !state.htmltag);
  const emit = (text: string) => {
    if (!visible()) return;
    flush();
    out.push(text);
  };
  const emitByte = (byte: number) => {
    if (fallback > 0) {
      fallback--;
      return;
    }
    if (visible()) bytes.push(byte);
  };

  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 0x7b /* { */) {
      if (stack.length < maxDepth) stack.push(state);
      else deeper++;
      state = { ...state };
      starred = false;
      fallback = 0;
      i++;
      continue;
    }
    if (c === 0x7d /* } */) {
      if (deeper > 0) deeper--;
      else if (stack.length > 0) state = stack.pop()!;
      starred = false;
      fallback = 0;
      i++;
      continue;
    }
    if (c === 0x0d || c === 0x0a) {
      i++;
      continue;
    }
    if (c !== 0x5c /* \ */) {
      emitByte(c);
      i++;
      continue;
    }
    const next = s.charCodeAt(i + 1);
    if (isLetter(next)) {
      let j = i + 1;
      while (j < n && j - i <= 32 && isLetter(s.charCodeAt(j))) j++;
      const word = s.slice(i + 1, j);
      let k = j;
      if (s[k] === '-') k++;
      while (k < n && k - j <= 10 && s.charCodeAt(k) >= 0x30 && s.charCodeAt(k) <= 0x39) k++;
      const param = k > j && s.slice(j, k) !== '-' ? Number(s.slice(j, k)) : null;
      i = s[k] === ' ' ? k + 1 : k;
      const wasStarred = starred;
      starred = false;
      if (wasStarred) {
        if (fromHtml && word === 'htmltag') state.htmltag = true;
        else state.skip = true;
        continue;
      }
      if (skippedDestinations.has(word)) {
        state.skip = true;
        continue;
      }
      switch (word) {
        case 'par': case 'line': case 'sect': case 'page': case 'row':
          emit(fromHtml ? '\r\n' : '\n');
          break;
        case 'tab': case 'cell':
          emit('\t');
          break;
        case 'ansicpg':
          if (param !== null) codepage = iconv.encodingExists(`cp${param}`) ? `cp${param}` : codepage;
          break;
        case 'uc':
          if (param !== null && param >= 0 && param < 10) state.uc = param;
          break;
        case 'u':
          if (param !== null) {
            if (fallback === 0) emit(String.fromCharCode(param < 0 ? param + 65536 : param & 0xffff));
            fallback = state.uc;
          }
          break;
        case 'htmlrtf':
          state.htmlrtf = param !== 0;
          break;
        default: {
          const symbol = symbols[word];
          if (symbol) emit(symbol);
        }
      }
      continue;
    }
    if (next === 0x27 /* ' */) {
      const byte = Number.parseInt(s.slice(i + 2, i + 4), 16);
      if (!Number.isNaN(byte)) emitByte(byte);
      i += 4;
      continue;
    }
    if (next === 0x2a /* * */) starred = true;
    else if (next === 0x5c || next === 0x7b || next === 0x7d) emitByte(next);
    else if (next === 0x7e /* ~ */) emit('\u00a0');
    else if (next === 0x5f /* _ */) emit('-');
    else if (next === 0x0d || next === 0x0a) emit(fromHtml ? '\r\n' : '\n');
    i += 2;
  }
  flush();
  const value = out.join('');
  return { kind: fromHtml ? 'html' : 'text', value: fromHtml ? value : value.replace(/[ \t]+\n/g, '\n').trim() };
}

interface GroupState {
  skip: boolean;
  uc: number;
  htmlrtf: boolean;
  htmltag: boolean;
}

/** Deeper groups than this are counted, not stacked: a hostile "{{{{…" costs no memory. */
const maxDepth = 1000;

const isLetter = (c: number) => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);

/** Destinations whose text is not the document's (RTF 1.9.1). */
const skippedDestinations = new Set(['fonttbl', 'colortbl', 'stylesheet', 'info', 'pict', 'object', 'objdata', 'header', 'headerl', 'headerr', 'headerf', 'footer', 'footerl', 'footerr', 'footerf', 'listtable', 'listoverridetable', 'rsidtbl', 'generator', 'themedata', 'colorschememapping', 'datastore', 'latentstyles', 'xmlnstbl', 'fldinst', 'pntext', 'pntxta', 'pntxtb', 'nonshppict', 'shppict', 'filetbl', 'revtbl', 'userprops', 'bkmkstart', 'bkmkend', 'mhtmltag', 'fldtype']);

const symbols: Record<string, string> = { emdash: '\u2014', endash: '\u2013', bullet: '\u2022', lquote: '\u2018', rquote: '\u2019', ldblquote: '\u201c', rdblquote: '\u201d', emspace: ' ', enspace: ' ', qmspace: ' ' };
