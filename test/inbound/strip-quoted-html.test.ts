import { htmlToText } from 'html-to-text';
import { describe, expect, it } from 'vitest';
import { stripQuotedHtml } from '../../src/inbound/strip-quoted-html.js';
import { stripQuoted } from '../../src/inbound/strip-quoted.js';

/**
 * What a note of new text becomes for an HTML-only message: quotes out of the HTML, then text,
 * then the text rules. Blank lines are html-to-text's (a <br> in an empty div is one): compared as one.
 */
const note = (html: string) => stripQuoted(htmlToText(stripQuotedHtml(html), { wordwrap: false })).replace(/\n{3,}/g, '\n\n');
const addr = 'Acme Support &lt;<a href="mailto:support@acme.test">support@acme.test</a>&gt;';
const gmail = (attr: string, quote: string) => `<div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">${attr}<br></div>`
  + `<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">${quote}</blockquote></div>`;

describe('stripQuotedHtml', () => {
  it('removes Gmail\'s quote container, in any language of its attribution', () => {
    for (const attr of [`On Tue, Mar 3, 2026 at 10:02 AM ${addr} wrote:`, `Am Di., 3. März 2026 um 10:02 Uhr schrieb ${addr}:`, `Le mar. 3 mars 2026 à 10:02, ${addr} a écrit&nbsp;:`]) {
      const html = `<div dir="ltr">Thursday is fine.<div><br></div><div>Ben</div></div><br>${gmail(attr, '<div dir="ltr">Which day?</div>')}`;
      expect(stripQuotedHtml(html)).not.toMatch(/Which day|gmail_attr|support@/);
      expect(note(html)).toBe('Thursday is fine.\n\nBen');
    }
  });

  it('keeps an answer typed between Gmail\'s quotes, drops a forward\'s container whole', () => {
    const interleaved = `<div>Answers below.</div><div class="gmail_quote"><div class="gmail_attr">On Tue, Mar 3, 2026 ${addr} wrote:</div>`
      + '<blockquote class="gmail_quote">Which day?</blockquote><div>Thursday.</div><blockquote class="gmail_quote">Call first?</blockquote><div>Yes.</div></div>';
    expect(note(interleaved)).toBe('Answers below.\nThursday.\nYes.');
    const forward = '<div>FYI</div><div class="gmail_quote"><div class="gmail_attr">---------- Forwarded message ---------<br>From: x</div><div>old body</div></div>';
    expect(note(forward)).toBe('FYI');
  });

  it('cuts Outlook\'s reply separators with everything after them (web, desktop, mobile)', () => {
    const web = '<div>Donnerstag passt.</div><div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1">'
      + '<div id="divRplyFwdMsg" dir="ltr"><b>Von:</b> KB<br><b>Gesendet:</b> Freitag</div><div>The draft.</div>';
    expect(stripQuotedHtml(web)).toBe('<div>Donnerstag passt.</div>');
    const mobile = '<div dir="auto">Ok</div><div id="ms-outlook-mobile-signature">Get Outlook for iOS</div>\n<hr style="display:inline-block;width:98%" tabindex="-1">\n<div id="divRplyFwdMsg"><b>From:</b> KB</div><div>The draft.</div>';
    expect(note(mobile)).toBe('Ok\nGet Outlook for iOS');
    for (const colour of ['#E1E1E1', '#B5C4DF']) {
      const desktop = `<div class="WordSection1"><p class="MsoNormal">Jeudi nous convient.<o:p></o:p></p><div style='border:none;border-top:solid ${colour} 1.0pt;padding:3.0pt 0cm 0cm 0cm'>`
        + '<p class="MsoNormal"><b>De&nbsp;:</b> KB<br><b>Envoyé&nbsp;:</b> mardi</p></div><p class="MsoNormal">The draft.</p></div>';
      expect(note(desktop)).toBe('Jeudi nous convient.');
    }
  });

  it('removes Apple Mail\'s and Thunderbird\'s cite blockquotes with their attribution, keeping the text below (bottom-posting)', () => {
    const apple = '<div>Sounds good.</div><div><br><div>On 3 Mar 2026, at 10:02, Acme &lt;s@acme.test&gt; wrote:</div><br class="Apple-interchange-newline">'
      + '<blockquote type="cite"><div>Which day?</div></blockquote></div><div>Thursday, then.</div>';
    expect(note(apple)).toBe('Sounds good.\n\nThursday, then.');
    const thunderbird = '<div class="moz-cite-prefix">Am 03.03.26 um 10:02 schrieb Acme:<br></div><blockquote type="cite" cite="mid:x@acme.test"><p>Welcher Tag?</p></blockquote><p>Donnerstag.</p>';
    expect(note(thunderbird)).toBe('Donnerstag.');
  });

  it('keeps a plain blockquote (Gmail\'s "indent"), tags inside scripts and comments, and HTML with no quote unchanged', () => {
    const plain = '<div>Our terms:</div><blockquote style="margin:0 0 0 40px;border:none;padding:0px">Net 30.</blockquote>';
    expect(stripQuotedHtml(plain)).toBe(plain);
    const tricky = '<p>x</p><script>var a = "<blockquote type=cite>";</script><!-- <div id="divRplyFwdMsg"> --><p title="a>b" class=\'gmail_attr\'>y</p>';
    expect(stripQuotedHtml(tricky)).toBe(tricky);
    expect(stripQuotedHtml('')).toBe('');
    expect(stripQuotedHtml('no tags at all < 3')).toBe('no tags at all < 3');
  });

  it('ends unclosed quotes at the end of the HTML', () => {
    expect(stripQuotedHtml('<div>New</div><blockquote type="cite"><div>old')).toBe('<div>New</div>');
    expect(stripQuotedHtml('<div>New<blockquote class="gmail_quote">old</div><p>after</p>')).toBe('<div>New</div><p>after</p>');
  });
});
