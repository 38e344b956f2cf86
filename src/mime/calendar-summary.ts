/**
 * A short text for a calendar invitation (text/calendar, RFC 5545 with the iTIP methods of
 * RFC 5546), for a message that carries nothing else to read: what it is (its METHOD), and of
 * its first VEVENT the SUMMARY, DTSTART (with its TZID), LOCATION and ORGANIZER (CN and
 * address). Lines are unfolded (RFC 5545 3.1) and text values unescaped (3.3.11). Null when
 * the text holds no event. One pass over the lines, at most `maxLines` of them.
 */
export function calendarSummary(ics: string): string | null {
  let method: string | null = null;
  let inEvent = false;
  let done = false;
  const event = new Map<string, { params: string; value: string }>();
  let lines = 0;
  for (const line of unfolded(ics)) {
    if (++lines > maxLines || done) break;
    const { name, params, value } = contentLine(line);
    if (name === 'METHOD' && !inEvent) method = value.trim().toUpperCase();
    else if (name === 'BEGIN' && value.trim().toUpperCase() === 'VEVENT') inEvent = true;
    else if (name === 'END' && value.trim().toUpperCase() === 'VEVENT') done = inEvent;
    else if (inEvent && !event.has(name) && wanted.has(name)) event.set(name, { params, value });
  }
  if (!inEvent) return null;
  const heading = headings[method ?? ''] ?? 'Calendar event';
  const summary = event.get('SUMMARY');
  const out = [`${heading}: ${summary ? unescapeText(summary.value).trim() || '(no title)' : '(no title)'}`];
  const start = event.get('DTSTART');
  if (start) out.push(`When: ${when(start.value, param(start.params, 'TZID'))}`);
  const location = event.get('LOCATION');
  if (location && unescapeText(location.value).trim()) out.push(`Where: ${unescapeText(location.value).trim()}`);
  const organizer = event.get('ORGANIZER');
  if (organizer) {
    const address = organizer.value.trim().replace(/^mailto:/i, '');
    const name = param(organizer.params, 'CN');
    out.push(`Organizer: ${name ? `${name} <${address}>` : address}`);
  }
  return out.join('\n');
}

const maxLines = 20_000;
const wanted = new Set(['SUMMARY', 'DTSTART', 'LOCATION', 'ORGANIZER']);
const headings: Record<string, string> = { REQUEST: 'Invitation', CANCEL: 'Cancelled', REPLY: 'Reply to invitation', COUNTER: 'Counter-proposal', PUBLISH: 'Calendar event', ADD: 'Added to event', REFRESH: 'Request for the latest version', DECLINECOUNTER: 'Counter-proposal declined' };

/** The content lines, folded lines joined (a CRLF or LF followed by a space or tab continues the line). */
function* unfolded(ics: string): Generator<string> {
  let current: string | null = null;
  for (const raw of ics.split(/\r?\n/)) {
    if ((raw.startsWith(' ') || raw.startsWith('\t')) && current !== null) {
      current += raw.slice(1);
      continue;
    }
    if (current !== null) yield current;
    current = raw;
  }
  if (current !== null) yield current;
}

/** A content line's name (upper case), its parameters as written, and its value: `NAME;P=V;P2="a:b":value`. */
function contentLine(line: string): { name: string; params: string; value: string } {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') quoted = !quoted;
    else if (c === ':' && !quoted) {
      const head = line.slice(0, i);
      const semi = head.indexOf(';');
      return { name: (semi >= 0 ? head.slice(0, semi) : head).trim().toUpperCase(), params: semi >= 0 ? head.slice(semi + 1) : '', value: line.slice(i + 1) };
    }
  }
  return { name: '', params: '', value: '' };
}

/** A parameter's value (quotes removed), or null: `params` split at the semicolons outside quotes. */
function param(params: string, name: string): string | null {
  let start = 0;
  let quoted = false;
  for (let i = 0; i <= params.length; i++) {
    const c = params[i];
    if (c === '"') quoted = !quoted;
    if (i < params.length && (c !== ';' || quoted)) continue;
    const part = params.slice(start, i);
    start = i + 1;
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim().toUpperCase() === name) return part.slice(eq + 1).trim().replace(/^"|"$/g, '') || null;
  }
  return null;
}

/** A DTSTART value as people read it: 20260310T140000Z → "2026-03-10 14:00 UTC", a date alone → "2026-03-10". */
function when(value: string, tzid: string | null): string {
  const m = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})?(Z)?)?$/.exec(value.trim());
  if (!m) return value.trim();
  const date = `${m[1]}-${m[2]}-${m[3]}`;
  if (!m[4]) return date;
  const zone = m[7] ? ' UTC' : tzid ? ` ${tzid}` : '';
  return `${date} ${m[4]}:${m[5]}${zone}`;
}

/** A TEXT value unescaped: \n and \N are line breaks, \, \; \\ the characters. */
function unescapeText(value: string): string {
  return value.replace(/\\([nN,;\\])/g, (_, c: string) => (c === 'n' || c === 'N' ? '\n' : c));
}
