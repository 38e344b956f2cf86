import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { htmlToText } from 'html-to-text';
import { describe, expect, it } from 'vitest';
import { automaticKind } from '../../src/inbound/automatic-mail.js';
import { decide } from '../../src/inbound/inbound-rules.js';
import { parseMessage } from '../../src/inbound/parse-message.js';
import { stripQuotedHtml } from '../../src/inbound/strip-quoted-html.js';
import { stripQuoted } from '../../src/inbound/strip-quoted.js';
import type { Contact } from '../../src/store/contacts-repo.js';

// Issue 16 item 2 ("new text only"): the two cases of ../shared/cases/inbound/ kept in the repo
// (test/fixtures/inbound-cases/), and the quoted kind of the fidelity corpus, through the parser
// and the rules. test/daemon/daemon-once-quoted-cases.test.ts takes the two cases through Dovecot.

const fixtures = new URL('../fixtures/', import.meta.url).pathname;
const parse = (raw: Buffer) => parseMessage(Readable.from([raw]), { maxTextChars: 1_000_000 });
const contact = (email: string): Contact => ({ id: 1, email, name: email, isGuest: false, canCreateIn: ['support'], createdAt: '' });
const account = { table: 'support', allowRecordCreation: true, unknownSender: 'ignore', notes: 'new-text' } as const;

/** The note the rules write for a message from a contact allowed to create records (no "From …:" line in front). */
async function noteOf(raw: Buffer): Promise<string> {
  const message = await parse(raw);
  const decision = decide({ account, message, automatic: automaticKind(message), reference: null, refused: [], sender: contact(message.from!), guest: null });
  expect(decision.action).toBe('create');
  return (decision as { note: string }).note;
}

describe('the cases of issue 16 item 2', () => {
  it('bottom-posted-reply.eml: the note keeps every new line and drops only the quoted ones', async () => {
    const note = await noteOf(readFileSync(join(fixtures, 'inbound-cases/bottom-posted-reply.eml')));
    expect(note).toBe('Thursday morning works best for us.\n\nYes, please call 15 minutes ahead.\n\nBen');
  });

  it('quoted-outlook-header-de.eml: the note is "Passt so, danke." only', async () => {
    expect(await noteOf(readFileSync(join(fixtures, 'inbound-cases/quoted-outlook-header-de.eml')))).toBe('Passt so, danke.');
  });
});

describe('the quoted kind of the fidelity corpus (test/fixtures/fidelity/quoted/)', () => {
  const folder = join(fixtures, 'fidelity/quoted');
  const names = readdirSync(folder).filter((f) => f.endsWith('.eml')).map((f) => f.slice(0, -4)).sort();

  it('has at least five cases of each kind', () => {
    for (const kind of ['top-', 'bottom-', 'interleaved-', 'html-gmail-', 'html-outlook-']) expect(names.filter((n) => n.startsWith(kind)).length, kind).toBeGreaterThanOrEqual(5);
    // Top-posted: one per language of the table at least.
    expect(names.filter((n) => n.startsWith('top-')).length).toBeGreaterThanOrEqual(12);
  });

  for (const name of names) {
    it(name, async () => {
      const raw = readFileSync(join(folder, `${name}.eml`));
      const expected = JSON.parse(readFileSync(join(folder, `${name}.expected.json`), 'utf8')) as { note: { contains: string[]; absent: string[] } };
      const notes = [await noteOf(raw)];
      const message = await parse(raw);
      // HTML-only: also the way the body will be made once parse-message calls stripQuotedHtml.
      if (message.html !== null) notes.push(stripQuoted(htmlToText(stripQuotedHtml(message.html), { wordwrap: false })));
      for (const note of notes) {
        for (const text of expected.note.contains) expect(note, `${name}: "${text}"`).toContain(text);
        for (const text of expected.note.absent) expect(note, `${name}: no "${text}"`).not.toContain(text);
      }
    });
  }
});
