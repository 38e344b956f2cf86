import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { automaticKind } from '../../src/inbound/automatic-mail.js';
import { autoReplySubject, autoReplySubjects } from '../../src/inbound/auto-reply-subjects.js';
import { noticeBodies, noticeBody, noticeSubject, noticeSubjects } from '../../src/inbound/delivery-notice.js';
import { parseMessage } from '../../src/inbound/parse-message.js';
import { returnedHeaders, returnedMessageIds } from '../../src/inbound/returned-message.js';
import { simpleMessage } from '../helpers/messages.js';

const kindOf = async (raw: string) => automaticKind(await parseMessage(Readable.from([Buffer.from(raw)]), { maxTextChars: 1_000_000 }));
/** A header line carrying `subject` (RFC 2047-encoded when it is not ASCII, as clients send it). */
const subjectLine = (subject: string) => (/^[\x20-\x7e]*$/.test(subject) ? subject : `=?UTF-8?B?${Buffer.from(subject).toString('base64')}?=`);
const ofSubject = (subject: string, headers?: string, from = 'ann@example.test', body = 'Hello.') =>
  kindOf(simpleMessage({ from, subject: subjectLine(subject), body, ...(headers ? { headers } : {}) }));
/** Capitalised as a client writes it ("Automatische Antwort"). */
const written = (phrase: string) => phrase.replace(/(^|\s)(\p{L})/gu, (_, s: string, c: string) => s + c.toUpperCase());

describe('auto-reply subjects: the table, each entry', () => {
  const languages = new Set(autoReplySubjects.flatMap((e) => e.languages));
  it('covers the languages of our users', () => {
    for (const lang of ['en', 'de', 'fr', 'nl', 'es', 'it', 'pt', 'sv', 'da', 'no', 'fi', 'pl']) expect(languages, lang).toContain(lang);
  });

  for (const entry of autoReplySubjects) {
    it(`"${entry.phrase}" (${entry.languages.join(', ')}, ${entry.alone ? 'alone' : 'with a sign'})`, async () => {
      const label = written(entry.phrase);
      // As a label: "Phrase: subject", in brackets, as the whole subject, behind a gateway's tag.
      const own = [`${label}: Neue Bestellung`, `[${label}] Order 7`, label, `[EXTERNAL] ${label}: Order`, `[Extern] ${label}: Order`, `EXTERNAL: ${label}: Order`, `[SPAM] ${label}: Order`,
        ...(label.toUpperCase().toLowerCase() === label.toLowerCase() ? [`${label.toUpperCase()}: Order`] : [])];
      // After reply prefixes: a person answering an auto-reply, unless a strong sign says otherwise.
      const replied = [`RE: AW: ${label}: Order 7`, `Re[2]: ${label}\u00a0: Order`, `[Ext] RE: ${label}: Order`];
      for (const subject of [...own, ...replied]) expect(autoReplySubject(subject)?.phrase, subject).toBe(entry.phrase);
      for (const subject of own) {
        expect(await ofSubject(subject, 'X-Auto-Response-Suppress: All'), subject).toBe('auto-reply');
        expect(await ofSubject(subject, 'X-MS-Exchange-Inbox-Rules-Loop: kim@example.test'), subject).toBe('auto-reply');
        expect(await ofSubject(subject, 'Precedence: junk'), subject).toBe('auto-reply');
        expect(await ofSubject(subject), `${subject} (no sign)`).toBe(entry.alone ? 'auto-reply' : null);
      }
      for (const subject of replied) {
        expect(await ofSubject(subject, 'X-Auto-Response-Suppress: All\r\nIn-Reply-To: <oof@example.test>'), `${subject} (a person's Outlook)`).toBeNull();
        expect(await ofSubject(subject), `${subject} (no sign)`).toBeNull();
        expect(await ofSubject(subject, 'Return-Path: <>'), subject).toBe('auto-reply');
      }
      // A null Return-Path (RFC 3834 §3.3) is a sign as well.
      expect(await ofSubject(`${label}: Order`, 'Return-Path: <>')).toBe('auto-reply');
      // Exchange's "<Automatic reply> <of Out of office>:" shape: machine labels only.
      const shaped = `${label} of Out of Office: Order`;
      expect(autoReplySubject(shaped)?.phrase, shaped).toBe(entry.machine ? entry.phrase : undefined);
      expect(await ofSubject(shaped, 'X-Auto-Response-Suppress: All'), shaped).toBe(entry.machine ? 'auto-reply' : null);
      // Not a label: inside a person's subject, after a forward prefix, or followed by more words.
      for (const subject of [`${label} schedule for the team`, `Re: ${label} schedule`, `FW: ${label}: Order`, `Question about ${label}: Order`, `${label} schedule: Order`]) {
        expect(autoReplySubject(subject), subject).toBeUndefined();
        expect(await ofSubject(subject, 'X-Auto-Response-Suppress: All'), subject).toBeNull();
      }
    });
  }

  // Exchange's localized out-of-office subjects: "<Automatic reply> <of Out of office>:".
  const exchangeForms: Array<[string, string]> = [
    ['en', 'Automatic reply from Out of Office: New order'],
    ['de', 'Automatische Antwort von Abwesenheit: Neue Bestellung'],
    ['fr', 'Réponse automatique d\'absence du bureau\u00a0: Nouvelle commande'],
    ['fr', 'Réponse automatique d’absence du bureau : Nouvelle commande'],
    ['nl', 'Automatisch antwoord van Afwezig: Nieuwe bestelling'],
    ['es', 'Respuesta automática de Fuera de la oficina: Pedido nuevo'],
    ['it', 'Risposta automatica di Fuori sede: Nuovo ordine'],
    ['pt', 'Resposta automática de Ausência Temporária: Novo pedido'],
    ['sv', 'Automatiskt svar från Frånvarande: Ny beställning'],
    ['da', 'Automatisk svar fra Fraværende: Ny ordre'],
    ['no', 'Automatisk svar fra Ikke på kontoret: Ny ordre'],
    ['fi', 'Automaattinen vastaus: Poissa toimistolta: Uusi tilaus'],
    ['pl', 'Odpowiedź automatyczna od Poza biurem: Nowe zamówienie'],
    ['cs', 'Automatická odpověď z Mimo kancelář: Nová objednávka'],
  ];
  for (const [lang, subject] of exchangeForms) {
    it(`Exchange's form (${lang}): "${subject}"`, async () => {
      expect(autoReplySubject(subject)?.languages, subject).toContain(lang);
      expect(await ofSubject(subject, 'X-Auto-Response-Suppress: All'), subject).toBe('auto-reply');
      expect(await ofSubject(`[EXTERNAL] ${subject}`, 'X-Auto-Response-Suppress: All'), subject).toBe('auto-reply');
      expect(await ofSubject(subject), `${subject} (no sign)`).toBeNull();
    });
  }

  it('a person\'s request whose subject starts with a label is no auto-reply', async () => {
    for (const subject of ['Auto-reply: please switch it off for the shared mailbox', 'Abwesenheitsnotiz: bitte für Kim einrichten', 'Automatic reply: not working for Kim', 'Re: Automatic reply: Delivery schedule']) {
      expect(await ofSubject(subject), subject).toBeNull();
    }
    expect(await ofSubject('Re: Automatic reply: Delivery schedule', 'X-Auto-Response-Suppress: All\r\nIn-Reply-To: <oof@example.test>\r\nReferences: <oof@example.test>')).toBeNull();
  });
});

describe('automatic mail: headers and false positives', () => {
  it('reads RFC 3834 and the older headers', async () => {
    const cases: Array<[string, string | null]> = [
      ['Auto-Submitted: auto-replied', 'auto-reply'],
      ['Auto-Submitted: auto-generated', 'auto-reply'],
      ['Auto-Submitted: no', null],
      ['X-Autoreply: yes', 'auto-reply'],
      ['X-Autorespond: Out of office', 'auto-reply'],
      ['Precedence: auto_reply', 'auto-reply'],
      ['Precedence: bulk', 'list'],
      ['Precedence: junk', 'list'],
      ['Precedence: list', 'list'],
      ['List-Id: <announce.acme.test>', 'list'],
      ['X-Loop: records@acme.test', 'auto-reply'],
      // Outlook sets it on ordinary mail too: alone it says nothing.
      ['X-Auto-Response-Suppress: All', null],
      ['X-Auto-Response-Suppress: DR, RN, NRN, OOF, AutoReply', null],
      // A person's message through a relay that wrote a null Return-Path is not a bounce.
      ['Return-Path: <>', null],
      ['Return-Path: < >', null],
    ];
    for (const [header, kind] of cases) expect(await ofSubject('Can I change my delivery address?', header), header).toBe(kind);
  });

  it('a person\'s subject or body with "out of office" words is no auto-reply', async () => {
    const people = [
      'Re: out of office schedule for the team', 'Out of office schedule for December', 'Out of office?', 'Our out of office policy',
      'Automatic replies keep coming from your system', 'Re: Abwesenheit im Dezember', 'Réponse automatiquement envoyée ?', 'Autoreplies are broken',
      'Undeliverable parcel', 'Failure notices in the log', 'Delivery delayed by the strike?',
    ];
    for (const subject of people) expect(await ofSubject(subject, 'X-Auto-Response-Suppress: All'), subject).toBeNull();
    expect(await ofSubject('Question', undefined, 'ann@example.test', 'I will be out of office until Monday.\r\nAutomatic reply: this is not one.\r\nUndeliverable: neither.')).toBeNull();
    // A notice's subject and body words from a person (no mail system's sender, no null Return-Path): a person.
    expect(await ofSubject('Delivery delayed by the strike?', undefined, 'ann@example.test', 'This is a warning only: I need it Friday.')).toBeNull();
  });

  it('postmaster@ writing as a person is a person; MAILER-DAEMON never is', async () => {
    expect(await ofSubject('Your SPF record', undefined, 'postmaster@partner.test', 'Hi, your SPF record lists an old IP.')).toBeNull();
    expect(await ofSubject('Anything at all', undefined, 'MAILER-DAEMON@mx.partner.test')).toBe('bounce');
    expect(await ofSubject('Anything at all', undefined, 'Mail Delivery Subsystem <MAILER-DAEMON>')).toBe('bounce');
    expect(await ofSubject('Anything at all', undefined, 'MAILER-DAEMON')).toBe('bounce');
    expect(await ofSubject('Anything at all', undefined, 'MDaemon@mx.partner.test')).toBe('bounce');
    expect(await ofSubject('Anything at all', undefined, 'Ann <ann>')).toBeNull();
  });

  it('a localized Exchange delay notice is a delay, never a bounce (the headers of ours attached)', async () => {
    const notice = (subject: string, body: string) => [
      'Return-Path: <>', 'From: Microsoft Outlook <postmaster@example.test>', 'To: kb@acme.test', `Subject: ${subjectLine(subject)}`, 'Message-ID: <d@ex.test>', 'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b"', '', '--b', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', body, '',
      '--b', 'Content-Type: text/rfc822-headers', '', 'Message-ID: <mc.x@records.acme.test>', '', '--b--', '',
    ].join('\r\n');
    for (const subject of ['Entrega retrasada: Pedido', 'Recapito ritardato: Ordine', 'Zustellung verzögert: Auftrag', 'Remise différée : Commande', 'Levering vertraagd: Order',
      'Entrega atrasada: Pedido', 'Leverans fördröjd: Order', 'Levering forsinket: Ordre', 'Toimitus viivästynyt: Tilaus', 'Dostarczanie opóźnione: Zamówienie']) {
      expect(await kindOf(notice(subject, 'Wir versuchen es weiter.')), subject).toBe('delay');
    }
    expect(await kindOf(notice('Notificación', 'La entrega a estos destinatarios o grupos se ha retrasado:'))).toBe('delay');
    expect(await kindOf(notice('Notifica', 'Il recapito a questi destinatari o gruppi è in ritardo:'))).toBe('delay');
    // Words we do not know from a mail system with the original attached: still a bounce.
    expect(await kindOf(notice('Notifica', 'Qualcosa è andato storto.'))).toBe('bounce');
  });
});

describe('delivery notices: subjects and bodies, each entry', () => {
  for (const { phrase, kind } of noticeSubjects) {
    it(`subject "${phrase}" → ${kind} (with a second sign only)`, async () => {
      const subject = `${written(phrase)}: Rahmenvertrag Globex`;
      expect(await ofSubject(subject, undefined, 'postmaster@mx.partner.test'), subject).toBe(kind);
      expect(await ofSubject(subject, 'Return-Path: <>'), subject).toBe(kind);
      // A person's mail with that subject and nothing else: not a notice.
      expect(await ofSubject(subject), subject).toBeNull();
    });
  }
  for (const { words, kind } of noticeBodies) {
    it(`body "${words}" → ${kind}`, async () => {
      const body = `Hello,\r\n\r\n${words[0]!.toUpperCase()}${words.slice(1)} example.\r\n`;
      expect(await ofSubject('Notification', 'Return-Path: <>', 'system@mx.partner.test', body)).toBe(kind);
      expect(await ofSubject('Notification', undefined, 'postmaster@mx.partner.test', body)).toBe(kind);
      expect(await ofSubject('Notification', undefined, 'ann@example.test', body)).toBeNull();
    });
  }

  it('RFC 3464 reports: Action failed is a bounce, delayed a delay, delivered a receipt (a machine\'s answer, no bounce)', async () => {
    const report = (action: string) => [
      'From: MAILER-DAEMON@mx.partner.test', 'To: kb@acme.test', 'Subject: Delivery Status Notification', 'Message-ID: <dsn@mx.partner.test>', 'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="b"', '', '--b', 'Content-Type: text/plain', '', 'Report.', '',
      '--b', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx.partner.test', '', 'Final-Recipient: rfc822; pat@partner.test', `Action: ${action}`, 'Status: 4.4.7', '',
      '--b', 'Content-Type: text/rfc822-headers', '', 'Message-ID: <mc.x@records.acme.test>', '', '--b--', '',
    ].join('\r\n');
    expect(await kindOf(report('failed'))).toBe('bounce');
    expect(await kindOf(report('delayed'))).toBe('delay');
    expect(await kindOf(report('delivered'))).toBe('auto-reply');
    expect(await kindOf(report('relayed'))).toBe('auto-reply');
  });
});

describe('returned messages: where a notice keeps the original', () => {
  it('finds Message-ID and reference fields after a delivery-status part, folded, and inline in a text bounce', () => {
    const text = [
      'Reporting-MTA: dns; mx', '', 'Final-Recipient: rfc822; a@b', 'Action: failed', '',
      '--- Below this line is a copy of the message.', '', 'Return-Path: <kb@acme.test>', 'Message-ID:', ' <mc.abc@records.acme.test>', 'X-Mailctl-Ref: abc', ' def', 'Subject: x',
    ].join('\n');
    const headers = returnedHeaders(text);
    expect(returnedMessageIds(headers)).toEqual(['mc.abc@records.acme.test']);
    expect(headers.get('x-mailctl-ref')).toBe('abc def');
  });

  it('is linear on hostile text', () => {
    const started = performance.now();
    returnedHeaders(`Message-ID:${' \n'.repeat(500_000)}`);
    returnedHeaders('References: <a>\n'.repeat(100_000));
    autoReplySubject(`${'Re: '.repeat(250_000)}x`);
    autoReplySubject(`Re${' '.repeat(1_000_000)}:`);
    noticeBody(`${'this is a warning '.repeat(100_000)}`);
    noticeSubject(`${'undeliverable '.repeat(100_000)}`);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('a report\'s Action fields on hostile input', () => {
  it('reads 1 MB of "Action:" lines in linear time', async () => {
    const body = 'Action: delayed\r\n'.repeat(60_000);
    const raw = ['From: MAILER-DAEMON@mx.test', 'Subject: x', 'Message-ID: <h@mx.test>', 'MIME-Version: 1.0', 'Content-Type: multipart/report; report-type=delivery-status; boundary="b"', '',
      '--b', 'Content-Type: message/delivery-status', '', body, '--b--', ''].join('\r\n');
    const started = performance.now();
    expect(await kindOf(raw)).toBe('delay');
    expect(performance.now() - started).toBeLessThan(3_000);
  });
});
