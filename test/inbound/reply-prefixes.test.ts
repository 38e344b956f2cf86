import { describe, expect, it } from 'vitest';
import { recordTitle, titleOf } from '../../src/inbound/inbound-rules.js';
import { replyPrefixes } from '../../src/inbound/reply-prefixes.js';

describe('reply and forward prefixes: every row of the table', () => {
  it.each(replyPrefixes.map((p) => [p.prefix, p.used] as const))('%s (%s): plain, upper and lower case, with a counter, a space before the colon and a full-width colon', (prefix) => {
    for (const form of [`${prefix}: `, `${prefix.toUpperCase()}: `, `${prefix.toLowerCase()}:`, `${prefix}[2]: `, `${prefix}(3): `, `${prefix}^2: `, `${prefix} : `, `${prefix}：`]) {
      expect(titleOf(`${form}Rahmenvertrag Globex`), form).toBe('Rahmenvertrag Globex');
    }
    // Repeated, and mixed with another language's.
    expect(titleOf(`${prefix}: RE: ${prefix}: AW: Rahmenvertrag Globex`)).toBe('Rahmenvertrag Globex');
    // Only as a prefix: the same word inside the subject, or without a colon, stays.
    expect(titleOf(`Rahmenvertrag ${prefix}: Globex`)).toBe(`Rahmenvertrag ${prefix}: Globex`);
    expect(titleOf(`${prefix} Rahmenvertrag Globex`)).toBe(`${prefix} Rahmenvertrag Globex`);
  });
});

describe('titles from the subjects of real clients', () => {
  const cases: Array<[string, string]> = [
    ['RE[2]: Rahmenvertrag Globex', 'Rahmenvertrag Globex'],
    ['Antw: Rahmenvertrag Globex', 'Rahmenvertrag Globex'],
    ['TR: Rahmenvertrag Globex', 'Rahmenvertrag Globex'],
    ['RE: AW: WG: Rahmenvertrag Globex', 'Rahmenvertrag Globex'],
    ['RE : TR : Rahmenvertrag Globex', 'Rahmenvertrag Globex'],
    ['Re^2: Re(2): Fwd[3]: Rahmenvertrag Globex', 'Rahmenvertrag Globex'],
    ['Odp: PD: Rahmenvertrag Globex', 'Rahmenvertrag Globex'],
    ['SV: VB: VS: Rahmenvertrag Globex', 'Rahmenvertrag Globex'],
    ['RIF: R: I: Rahmenvertrag Globex', 'Rahmenvertrag Globex'],
    ['RES: ENC: Rahmenvertrag Globex', 'Rahmenvertrag Globex'],
    ['YNT: İLT: Ynt: Rahmenvertrag Globex', 'Rahmenvertrag Globex'],
    ['Απ: ΣΧΕΤ: Rahmenvertrag Globex', 'Rahmenvertrag Globex'],
    ['Отв: Ответ: Rahmenvertrag Globex', 'Rahmenvertrag Globex'],
    ['回复：转发：合同', '合同'],
    ['回覆: 轉寄: 合約', '合約'],
    ['返信: 転送: 契約書', '契約書'],
    ['답장: 전달: 계약', '계약'],
    ['Vá: Vá: Rahmenvertrag Globex', 'Rahmenvertrag Globex'],
    ['RE:RE:RE:Rahmenvertrag Globex', 'Rahmenvertrag Globex'],
    // List tags stay where they are; the prefixes around them go.
    ['[support] Re: Rahmenvertrag Globex', '[support] Rahmenvertrag Globex'],
    ['Re: [support] AW: Rahmenvertrag Globex', '[support] Rahmenvertrag Globex'],
    ['[EXTERNAL] RE: [support] Rahmenvertrag Globex', '[EXTERNAL] [support] Rahmenvertrag Globex'],
    ['[support]   Rahmenvertrag Globex', '[support]   Rahmenvertrag Globex'],
    // Not prefixes.
    ['Rent: due Friday', 'Rent: due Friday'],
    ['Re2: x', 'Re2: x'],
    ['Reminder: renew', 'Reminder: renew'],
    ['Re:', '(no subject)'],
    ['RE: [ref:AbCdEfGhIjKlMnOpQrStUvWxYz01234567] Rahmenvertrag Globex', 'Rahmenvertrag Globex'],
  ];
  it.each(cases)('%j → %j', (subject, title) => expect(titleOf(subject)).toBe(title));

  it('drops Pine\'s "(fwd)" after the subject, and Central European prefixes', () => {
    for (const [subject, title] of [
      ['Angebot Q3 (fwd)', 'Angebot Q3'], ['Re: Angebot Q3 (FWD) (fwd)', 'Angebot Q3'], ['(fwd)', '(fwd)'], ['Angebot (fwd) Q3', 'Angebot (fwd) Q3'],
      ['PŘ: Angebot Q3', 'Angebot Q3'], ['Odp: PŘ: Angebot Q3', 'Angebot Q3'], ['Továbbítás: Vá: Angebot Q3', 'Angebot Q3'],
      ['Redirecționat: RE: Angebot Q3', 'Angebot Q3'], ['Prosljeđeno: Odg: Angebot Q3', 'Angebot Q3'], ['Posredovano: Angebot Q3', 'Angebot Q3'],
    ]) expect(titleOf(subject!), subject).toBe(title);
  });

  it('keeps recordTitle\'s bounds on a 1 MB subject of prefixes', () => {
    expect(recordTitle(`${'RE: '.repeat(250_000)}x`)).toBe('(no subject)'); // only the first 1,000 characters are read
    expect(recordTitle(`RE[2]: ${'a'.repeat(1_000_000)}`).length).toBe(250);
  });
});
