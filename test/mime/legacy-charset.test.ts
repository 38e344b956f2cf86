import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { calendarSummary } from '../../src/mime/calendar-summary.js';
import { decodeHeaderValue } from '../../src/mime/header-block.js';
import { isUnknownCharset, legacyCharsetFor } from '../../src/mime/legacy-charset.js';

const raw = (text: string, charset: string) => iconv.encode(text, charset).toString('latin1');

describe('undeclared 8-bit text', () => {
  it('encoded words of charset unknown-8bit are read like undeclared bytes', () => {
    expect(['unknown-8bit', 'X-Unknown', 'unknown', '8bit', '"unknown-8bit"'].every(isUnknownCharset)).toBe(true);
    expect(['utf-8', 'iso-8859-1', 'us-ascii', ''].some(isUnknownCharset)).toBe(false);
    expect(decodeHeaderValue('=?unknown-8bit?Q?J=FCrgen_M=FCller?= <j@x.test>')).toBe('Jürgen Müller <j@x.test>');
    expect(decodeHeaderValue('=?x-unknown?B?w5xiZXJnYWJl?=')).toBe('Übergabe');
    expect(decodeHeaderValue('=?unknown-8bit?Q?=C4=E3=BA=C3?=', 'gb18030')).toBe('你好');
  });

  it('a raw 8-bit header is read strictly as UTF-8 first, then by detection, with windows-1252 last', () => {
    expect(decodeHeaderValue(raw('Übergabe — Schlüssel ✓', 'utf-8'))).toBe('Übergabe — Schlüssel ✓');
    expect(decodeHeaderValue(raw('Höchstgeschwindigkeit überschritten', 'latin1'))).toBe('Höchstgeschwindigkeit überschritten');
    expect(decodeHeaderValue(raw('“Urgent” – it’s due', 'windows-1252'))).toBe('“Urgent” – it’s due');
    expect(decodeHeaderValue(raw('Проверка договора до пятницы', 'koi8-r'), 'koi8-r')).toBe('Проверка договора до пятницы');
    // Encoded words still decode; text that is already Unicode is not read again.
    expect(decodeHeaderValue('=?utf-8?Q?Gr=C3=BC=C3=9Fe?= aus Köln 北京')).toBe('Grüße aus Köln 北京');
  });

  it('the message\'s charset: a declared one that reads every sample cleanly, else the detector, never Latin-1 C1 controls', () => {
    const sample = (text: string, cs: string) => iconv.encode(text, cs);
    expect(legacyCharsetFor([sample('请在星期五之前检查合同并确认价格。谢谢！', 'gb2312')])).toBe('gb18030');
    expect(legacyCharsetFor([sample('見積書を添付しましたので、ご確認ください。', 'shift_jis')])).toBe('cp932');
    expect(legacyCharsetFor([sample('Пожалуйста, проверьте договор до пятницы и подтвердите цену.', 'koi8-r')])).toBe('koi8-r');
    expect(legacyCharsetFor([sample('proszę sprawdzić umowę do środy', 'iso-8859-2')], ['iso-8859-2'])).toBe('iso-8859-2');
    // Declared, but it does not read the bytes (windows-1252 curly quotes are C1 controls in Latin-1): the detector's.
    expect(legacyCharsetFor([sample('We’ve got the “final” draft – it’s missing a page', 'windows-1252')], ['iso-8859-5'])).not.toBe('iso-8859-5');
    expect(legacyCharsetFor([])).toBe('windows-1252');
  });
});

describe('calendar summary', () => {
  it('METHOD, SUMMARY, DTSTART, LOCATION and ORGANIZER of the first VEVENT; null without one', () => {
    const ics = 'BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nSUMMARY:Review\\, part 2\r\nDTSTART:20260310T140000Z\r\nLOCATION:Room\r\n  4\r\nORGANIZER;CN="Lee, Ann";X-P="a;b":mailto:ann@example.test\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n';
    expect(calendarSummary(ics)).toBe('Invitation: Review, part 2\nWhen: 2026-03-10 14:00 UTC\nWhere: Room 4\nOrganizer: Lee, Ann <ann@example.test>');
    expect(calendarSummary('BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n')).toBeNull();
  });
});
