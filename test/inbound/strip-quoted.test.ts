import { describe, expect, it } from 'vitest';
import { headerLabelKind, isAttributionLine, isOriginalMessageLine, isSeparatorLine, quoteLanguages } from '../../src/inbound/quote-languages.js';
import { stripQuoted } from '../../src/inbound/strip-quoted.js';

const quoted = '> Could you confirm the delivery window for order 4411?\n> \n> Acme Support';

/** Outlook's header block as each language's Outlook writes it (the original below it is not `>` quoted). */
const outlookBlocks: Record<string, string> = {
  English: 'From: Acme Support <support@acme.test>\nSent: Tuesday, March 3, 2026 10:02 AM\nTo: Ann <ann@example.test>\nSubject: Delivery window',
  German: 'Von: Acme Support <support@acme.test>\nGesendet: Dienstag, 3. März 2026 10:02\nAn: Ann <ann@example.test>\nBetreff: Lieferfenster',
  French: 'De\u00a0: Acme Support <support@acme.test>\nEnvoyé\u00a0: mardi 3 mars 2026 10:02\nÀ\u00a0: Ann <ann@example.test>\nObjet\u00a0: Créneau de livraison',
  Dutch: 'Van: Acme Support <support@acme.test>\nVerzonden: dinsdag 3 maart 2026 10:02\nAan: Ann <ann@example.test>\nOnderwerp: Levertijd',
  Spanish: 'De: Acme Support <support@acme.test>\nEnviado el: martes, 3 de marzo de 2026 10:02\nPara: Ann <ann@example.test>\nAsunto: Entrega',
  Italian: 'Da: Acme Support <support@acme.test>\nInviato: martedì 3 marzo 2026 10:02\nA: Ann <ann@example.test>\nOggetto: Consegna',
  Portuguese: 'De: Acme Support <support@acme.test>\nEnviada em: terça-feira, 3 de março de 2026 10:02\nPara: Ann <ann@example.test>\nAssunto: Entrega',
  Swedish: 'Från: Acme Support <support@acme.test>\nSkickat: den 3 mars 2026 10:02\nTill: Ann <ann@example.test>\nÄmne: Leverans',
  Danish: 'Fra: Acme Support <support@acme.test>\nSendt: 3. marts 2026 10:02\nTil: Ann <ann@example.test>\nEmne: Levering',
  Norwegian: 'Fra: Acme Support <support@acme.test>\nSendt: tirsdag 3. mars 2026 10:02\nTil: Ann <ann@example.test>\nEmne: Levering',
  Finnish: 'Lähettäjä: Acme Support <support@acme.test>\nLähetetty: tiistai 3. maaliskuuta 2026 10.02\nVastaanottaja: Ann <ann@example.test>\nAihe: Toimitus',
  Polish: 'Od: Acme Support <support@acme.test>\nWysłano: wtorek, 3 marca 2026 10:02\nDo: Ann <ann@example.test>\nTemat: Dostawa',
};

describe('stripQuoted: one row per language of the table', () => {
  it('has the twelve languages of issue 16, each with a header block here', () => {
    expect(quoteLanguages.map((l) => l.language).sort()).toEqual(Object.keys(outlookBlocks).sort());
  });

  for (const language of quoteLanguages) {
    describe(language.language, () => {
      for (const form of language.attributions) {
        it(`attribution "${form.example}": top-posted, bottom-posted, interleaved`, () => {
          expect(isAttributionLine(form.example)).toBe(true);
          expect(stripQuoted(`New text.\n\n${form.example}\n${quoted}`)).toBe('New text.');
          expect(stripQuoted(`${form.example}\n\n${quoted}\n\nNew text.\n\nAnn`)).toBe('New text.\n\nAnn');
          expect(stripQuoted(`${form.example}\n> first question\nFirst answer.\n> second question\nSecond answer.`)).toBe('First answer.\nSecond answer.');
          // Not followed by a quote: the history below it is not `>` quoted, and goes.
          expect(stripQuoted(`New text.\n\n${form.example}\n\nThe original, unquoted.`)).toBe('New text.');
        });
      }

      it(`Outlook header block (${outlookBlocks[language.language]!.split('\n').map((l) => l.slice(0, l.indexOf(':') + 1)).join(' ')})`, () => {
        const block = outlookBlocks[language.language]!;
        expect(stripQuoted(`New text.\r\n\r\nRegards\r\nAnn\r\n\r\n${block.replace(/\n/g, '\r\n')}\r\n\r\nThe original.`)).toBe('New text.\n\nRegards\nAnn');
        expect(stripQuoted(`New text.\n\n________________________________\n${block}\n\nThe original.`)).toBe('New text.');
        // As Gmail writes an Outlook message's bold labels in its text part.
        expect(stripQuoted(`New text.\n\n${block.replace(/^([^:]+):/gm, '*$1:*')}\n\nThe original.`)).toBe('New text.');
        expect(headerLabelKind(block.split('\n')[0]!)).toBe('from');
      });

      it(`"-----Original Message-----" forms (${language.originalMessage.join(', ')})`, () => {
        for (const words of language.originalMessage) {
          const capital = words[0]!.toUpperCase() + words.slice(1);
          expect(isOriginalMessageLine(`-----${capital}-----`)).toBe(true);
          expect(stripQuoted(`New text.\n\n-------- ${capital} --------\n${outlookBlocks[language.language]}\n\nThe original.`)).toBe('New text.');
        }
      });

      it(`Zimbra's, Gmail's and Thunderbird's separators (${[...language.originalMessage, ...language.forwarded].join(', ')})`, () => {
        for (const words of [...language.originalMessage, ...language.forwarded]) {
          const capital = words[0]!.toUpperCase() + words.slice(1);
          for (const line of [`----- ${capital} -----`, `---------- ${capital} ---------`, `-------- ${capital} --------`]) {
            expect(isSeparatorLine(line)).toBe(true);
            // The forward's header block below need not be one we know: the separator ends the new text.
            expect(stripQuoted(`New text.\n\n${line}\nSomething: x\n\nThe original.`)).toBe('New text.');
          }
        }
      });

      it(`Apple Mail's forward line (${language.forwardIntro.join(', ')})`, () => {
        for (const intro of language.forwardIntro) {
          const capital = intro[0]!.toUpperCase() + intro.slice(1);
          expect(isSeparatorLine(capital)).toBe(true);
          expect(stripQuoted(`New text.\n\n${capital}\n\n${outlookBlocks[language.language]}\n\nThe original.`)).toBe('New text.');
        }
        // A sentence that starts like one is new text.
        expect(stripQuoted(`${language.forwardIntro[0]!.slice(0, -1)} below, thanks.\nBye.`)).toBe(`${language.forwardIntro[0]!.slice(0, -1)} below, thanks.\nBye.`);
      });

      it('header blocks in any order of labels (GMX, Zimbra, Thunderbird) and with a wrapped From line (Outlook at 76 characters)', () => {
        const [from, sent, to, subject] = outlookBlocks[language.language]!.split('\n') as [string, string, string, string];
        const blocks = [
          [sent, from, to, subject], // GMX, web.de
          [from, to, sent, subject], // Zimbra
          [subject, sent, from, to].map((l) => l.replace(/:\s*/, ':\t')), // Thunderbird's forward
          [from.replace(' <support@acme.test>', ' Team (Customer Service, Logistics Department)\n<support@acme.test>'), sent, to, subject], // wrapped
        ];
        for (const block of blocks) {
          expect(stripQuoted(`New text.\n\nRegards\n\n${block.join('\n')}\n\nThe original.`)).toBe('New text.\n\nRegards');
        }
      });
    });
  }
});

describe('stripQuoted: the kinds of issue 16', () => {
  it('keeps every new line of a bottom-posted and interleaved reply (the case bottom-posted-reply.eml)', () => {
    const body = 'On Tue, 3 Mar 2026 at 10:02, Acme Support <support@acme.test> wrote:\n> Could you tell us which day suits you for the delivery?\n\nThursday morning works best for us.\n\n'
      + '> And should we call before arriving?\n\nYes, please call 15 minutes ahead.\n\nBen';
    expect(stripQuoted(body)).toBe('Thursday morning works best for us.\n\nYes, please call 15 minutes ahead.\n\nBen');
  });

  it('keeps the new text above a German Outlook header block without ">" (the case quoted-outlook-header-de.eml)', () => {
    expect(stripQuoted('Passt so, danke.\r\n\r\nVon: KB <kb@acme.test>\r\nGesendet: Freitag, 27. November 2026 11:00\r\nAn: Ann <ann@example.test>\r\nBetreff: Draft ready\r\n\r\nThe draft is attached.'))
      .toBe('Passt so, danke.');
  });

  it('removes nested and indented quotes, with the attribution inside them (iOS Mail)', () => {
    expect(stripQuoted('Ok.\n\nSent from my iPhone\n\n> On 3 Mar 2026, at 10:02, Acme <s@acme.test> wrote:\n> \n> > older\n> text')).toBe('Ok.\n\nSent from my iPhone');
    expect(stripQuoted('answers inline:\n\n > question one\n\none.\n\n   > question two\ntwo.')).toBe('answers inline:\n\none.\n\ntwo.');
  });

  it('keeps signatures: "Sent from my iPhone", "Von meinem iPhone gesendet", "Get Outlook for iOS", "-- " blocks', () => {
    expect(stripQuoted('Yes.\n\nVon meinem iPhone gesendet\n\nAm 03.03.2026 um 10:02 schrieb Acme <s@acme.test>:\n\n> x')).toBe('Yes.\n\nVon meinem iPhone gesendet');
    expect(stripQuoted('Yes.\n\nGet Outlook for iOS<https://aka.ms/o0ukef>\n________________________________\nFrom: Acme <s@acme.test>\nSent: Tuesday\nTo: Ann\nSubject: x\n\nold'))
      .toBe('Yes.\n\nGet Outlook for iOS<https://aka.ms/o0ukef>');
    expect(stripQuoted('> q\nA.\n\n-- \nBen Sample\n+49 30 1234')).toBe('A.\n\n-- \nBen Sample\n+49 30 1234');
  });

  it('joins an attribution wrapped over two lines, but not two sentences', () => {
    expect(stripQuoted('Thursday.\n\nOn Tue, 3 Mar 2026 at 10:02, Acme Support Team <support@acme.test>\nwrote:\n> q')).toBe('Thursday.');
    expect(stripQuoted('On Monday we met.\nHe wrote:\nthat it works.')).toBe('On Monday we met.\nHe wrote:\nthat it works.');
  });

  it('reads the attack cases of the fidelity corpus (GMX, Zimbra, Yahoo, Apple Mail pl, Outlook wrapped, Thunderbird and Gmail forwards)', () => {
    expect(stripQuoted('Donnerstag 9-12 Uhr passt.\n\nGruß Jürgen\n \n\nGesendet: Dienstag, 03. März 2026 um 10:02 Uhr\nVon: "Acme Support" <support@acme.test>\nAn: juergen@example.test\nBetreff: Lieferfenster\n\nCould you confirm?'))
      .toBe('Donnerstag 9-12 Uhr passt.\n\nGruß Jürgen');
    expect(stripQuoted('Jeudi.\n\n----- Mail original -----\nDe: "Acme Support" <support@acme.test>\nÀ: "Claire" <claire@example.test>\nEnvoyé: Mardi 3 Mars 2026 10:02:00\nObjet: Fenêtre\n\nCould you confirm?')).toBe('Jeudi.');
    expect(stripQuoted('Donnerstag passt.\n\n\n    Am Dienstag, 3. März 2026, 10:02:00 MEZ hat Acme Support <support@acme.test> Folgendes geschrieben:  \n\n Could you confirm?')).toBe('Donnerstag passt.');
    expect(stripQuoted('Czwartek.\n\nWiadomość napisana przez Acme Support <support@acme.test> w dniu 03.03.2026, o godz. 10:02:\n\nCould you confirm?')).toBe('Czwartek.');
    expect(stripQuoted('Bitte weitergeben.\n\n-------- Weitergeleitete Nachricht --------\nBetreff: \tLieferfenster\nDatum: \tTue, 3 Mar 2026\nVon: \tAcme <support@acme.test>\nAn: \tj@example.test\n\nCould you confirm?')).toBe('Bitte weitergeben.');
    expect(stripQuoted('Pour info.\n\n---------- Forwarded message ---------\nDe : Acme <support@acme.test>\nDate: mar. 3 mars 2026\n\nCould you confirm?')).toBe('Pour info.');
  });

  it("reads Thunderbird's own forward labels (Sujet/Pour, Mittente/Destinatario, Nadawca/Adresat)", () => {
    expect(stripQuoted('Voilà.\n\nSujet : Livraison\nDate : Tue, 3 Mar 2026\nDe : Acme <s@acme.test>\nPour : c@example.test\n\nold')).toBe('Voilà.');
    expect(stripQuoted('Ecco.\n\nOggetto: Consegna\nData: Tue, 3 Mar 2026\nMittente: Acme <s@acme.test>\nDestinatario: c@example.test\n\nold')).toBe('Ecco.');
    expect(stripQuoted('Proszę.\n\nTemat: Dostawa\nData: Tue, 3 Mar 2026\nNadawca: Acme <s@acme.test>\nAdresat: c@example.test\n\nold')).toBe('Proszę.');
  });

  it('keeps new text that only looks like a marker', () => {
    // No date or address: "As you wrote:" is the sender's own line (the quote below it still goes).
    expect(stripQuoted('As you wrote:\n> the price is fixed\nit is not.')).toBe('As you wrote:\nit is not.');
    expect(stripQuoted('From: Berlin\nTo Paris by train.')).toBe('From: Berlin\nTo Paris by train.');
    expect(stripQuoted('Subject: the delivery\nFrom: Berlin, by train.')).toBe('Subject: the delivery\nFrom: Berlin, by train.');
    expect(stripQuoted('We talked about the forwarded message -- see below.')).toBe('We talked about the forwarded message -- see below.');
    expect(stripQuoted('Thanks.\n\n__________\nAcme GmbH, Berlin')).toBe('Thanks.\n\n__________\nAcme GmbH, Berlin');
    expect(stripQuoted('No quote here.\nSecond line.')).toBe('No quote here.\nSecond line.');
  });

  it('gives nothing when there is only history (the note says "(no text)")', () => {
    expect(stripQuoted('On Tue, 3 Mar 2026, Acme <s@acme.test> wrote:\n> all quoted')).toBe('');
    expect(stripQuoted('-----Original Message-----\nFrom: x')).toBe('');
  });
});
