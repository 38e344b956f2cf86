import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { automaticKind } from '../../src/inbound/automatic-mail.js';
import { decide, type RuleInput } from '../../src/inbound/inbound-rules.js';
import { parseMessage } from '../../src/inbound/parse-message.js';
import type { Contact } from '../../src/store/contacts-repo.js';

/**
 * The fidelity cases of issue 16 items 3 and 4 (test/fixtures/fidelity/{html-only,tnef,calendar,charset},
 * format in that folder's README) through the parser and the rules, without a mail server: the
 * world of the README (Ann Example a contact who may create records, everyone else the guest's).
 * The fidelity runner takes the same cases through Dovecot and `daemon --once`.
 */
const root = new URL('../fixtures/fidelity/', import.meta.url).pathname;
const kinds = ['html-only', 'tnef', 'calendar', 'charset'];
const contact = (email: string, isGuest = false): Contact => ({ id: 1, email, name: email, isGuest, canCreateIn: isGuest ? [] : ['t'], createdAt: '' });
const contacts = new Map([['ann@example.test', contact('ann@example.test')], ['pat@acme.test', contact('pat@acme.test')]]);
const account: RuleInput['account'] = { table: 't', allowRecordCreation: true, unknownSender: 'guest', guestContact: 'guest@acme.test', notes: 'new-text' };

type Text = string | { contains?: string[]; absent?: string[] };
function expectText(actual: string | null, expected: Text | null, what: string) {
  if (expected === null || typeof expected === 'string') return expect(actual, what).toBe(expected);
  for (const piece of expected.contains ?? []) expect(actual, what).toContain(piece);
  for (const piece of expected.absent ?? []) expect(actual, what).not.toContain(piece);
}

describe('best text and charsets: the fidelity cases through takeMessage and the rules', () => {
  for (const kind of kinds) {
    const names = readdirSync(join(root, kind)).filter((f) => f.endsWith('.eml')).map((f) => f.slice(0, -4));
    it(`${kind}: at least five cases`, () => expect(names.length).toBeGreaterThanOrEqual(5));
    for (const name of names) {
      it(`${kind}/${name}`, async () => {
        const raw = readFileSync(join(root, kind, `${name}.eml`));
        const expected = JSON.parse(readFileSync(join(root, kind, `${name}.expected.json`), 'utf8'));
        const message = await parseMessage(Readable.from([raw]), { maxTextChars: 1_000_000 });
        const decision = decide({ account, message, automatic: automaticKind(message), reference: null, refused: [], sender: message.from ? contacts.get(message.from) ?? null : null, guest: contact('guest@acme.test', true) });
        if ('disposition' in expected) expect(decision.disposition).toBe(expected.disposition);
        if ('sender' in expected) expect(message.from).toBe(expected.sender);
        if ('title' in expected) expect(decision.action === 'create' ? decision.title : null).toBe(expected.title);
        if ('note' in expected) expectText(decision.action === 'none' ? null : decision.note, expected.note, 'note');
        if ('attachments' in expected) {
          const key = (a: { filename: string | null; contentType: string }) => `${a.filename}\u0000${a.contentType}`;
          expect(message.attachments.map(key).sort()).toEqual(expected.attachments.map(key).sort());
        }
      });
    }
  }
});
