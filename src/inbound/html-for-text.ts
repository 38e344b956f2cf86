/**
 * HTML without what never becomes text, before the HTML-to-text cap is applied (issue 16,
 * item 3): the contents of `<script>` and `<style>` elements and attribute values that are
 * `data:` URIs (an inline image of 240 KB in `src="data:image/png;base64,…"` used up the
 * 200,000 characters converted before the text that followed it). One linear pass: every search
 * goes on from where the last one ended, and an element or value that is never closed ends the
 * HTML (as a browser reads it), so nothing is scanned twice.
 */
export function htmlForText(html: string): string {
  if (!/<(?:script|style)\b|data:/i.test(html)) return html;
  const out: string[] = [];
  let from = 0;
  const bulk = /<(script|style)\b|=[ \t\r\n]*(["']?)data:/gi;
  const closing = { script: /<\/script/gi, style: /<\/style/gi };
  let m: RegExpExecArray | null;
  while ((m = bulk.exec(html))) {
    if (m[1]) {
      // <script …> or <style …>: keep the tag, drop what is inside up to its closing tag.
      const open = html.indexOf('>', bulk.lastIndex);
      if (open < 0) break;
      const end = closing[m[1].toLowerCase() as 'script' | 'style'];
      end.lastIndex = open + 1;
      const close = end.exec(html)?.index ?? -1;
      out.push(html.slice(from, open + 1));
      if (close < 0) return out.join('');
      from = close;
      bulk.lastIndex = close + 2;
    } else {
      // An attribute value that is a data: URI: kept as `=""`.
      const quote = m[2];
      out.push(html.slice(from, m.index), '=""');
      let end: number;
      if (quote) {
        end = html.indexOf(quote, bulk.lastIndex);
        if (end < 0) return out.join('');
        end++;
      } else {
        end = bulk.lastIndex;
        while (end < html.length && !' \t\r\n>'.includes(html[end]!)) end++;
      }
      from = end;
      bulk.lastIndex = end;
    }
  }
  out.push(html.slice(from));
  return out.join('');
}
