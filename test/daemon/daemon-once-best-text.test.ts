import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

/** The cases of issue 16 items 3 and 4 (test/fixtures/inbound-cases/, from the cases README), through Dovecot and `daemon --once`. */
const inboundCase = (name: string) => readFileSync(new URL(`../fixtures/inbound-cases/${name}`, import.meta.url));

describe('mailctl daemon --once: the best text of a message, and undeclared charsets (real Dovecot)', () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'kb@acme.test', password: 'kb-pass' }] });
  });
  afterAll(() => dovecot?.stop());

  it('HTML nested or beside a blank text part, a winmail.dat body, raw Latin-1: each note holds the text; a message with none says what it held', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    const json = async (args: string[]) => {
      const r = await runCli([...args, '--json'], { env });
      expect([0, 1], `${args.join(' ')}: ${r.stderr}`).toContain(r.code);
      return JSON.parse(r.stdout);
    };
    await runCli(['init', '--name', 'acme-prod', '--url', 'https://records.acme.test', '--environment', 'production'], { env });
    await runCli(['tables', 'add', 'support'], { env });
    await runCli(['contacts', 'add', 'ann@example.test', '--name', 'Ann Example', '--can-create', 'support'], { env });
    await runCli(['contacts', 'add', 'guest@acme.test', '--name', 'Email guest', '--guest'], { env });
    const configured = await runCli(['configure', 'inbound', 'support', '--protocol', 'imap', '--host', '127.0.0.1', '--port', String(dovecot.imapPort), '--security', 'none',
      '--auth', 'password', '--username', 'kb@acme.test', '--secret-stdin', '--folder', 'INBOX', '--create-records', '--unknown-sender', 'guest', '--guest', 'guest@acme.test',
      '--notes', 'new-text', '--after', 'mark-read'], { env, input: 'kb-pass' });
    expect(configured.code, configured.stderr).toBe(0);

    for (const name of ['html-only-nested.eml', 'blank-plain-beside-html.eml', 'winmail-dat-only-body.eml', 'undeclared-latin1.eml']) dovecot.deliver('kb@acme.test', inboundCase(name));
    dovecot.deliver('kb@acme.test', ['From: Ann Example <ann@example.test>', 'To: kb@acme.test', 'Subject: Scan', 'Message-ID: <scan-only@example.test>', 'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="s"', '', '--s', 'Content-Type: image/png; name="scan.png"', 'Content-Disposition: attachment; filename="scan.png"', 'Content-Transfer-Encoding: base64', '',
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/AAX+Av4N70a4AAAAAElFTkSuQmCC', '--s', 'Content-Type: application/pdf; name="scan.pdf"',
      'Content-Disposition: attachment; filename="scan.pdf"', '', '%PDF-1.4', '--s--', ''].join('\r\n'));

    const run = await json(['daemon', '--once']);
    expect(run.accounts[0]).toMatchObject({ status: 'ok', poll: { listed: 5, processed: 5 } });

    const records: Array<{ id: number; title: string }> = (await json(['records', 'list', '--table', 'support'])).records;
    const noteOf = async (title: string) => {
      const record = records.find((r) => r.title === title);
      expect(record, title).toBeDefined();
      return ((await json(['records', 'show', String(record!.id)])).notes as Array<{ body: string }>).map((n) => n.body).join('\n---\n');
    };

    // html-only-nested.eml: the only text is a text/html part nested inside multipart/mixed.
    const nested = await noteOf('Printer on floor 3 jams every morning');
    for (const line of ['Hello support,', 'the printer on floor 3 jams every morning at nine.', 'Ann']) expect.soft(nested).toContain(line);
    expect.soft(nested).not.toContain('(no text');

    // blank-plain-beside-html.eml: a blank text/plain beside the HTML that has the words (an unknown sender: the guest's record).
    expect.soft(await noteOf('Password reset for the billing portal')).toBe('From Ivo Tester <ivo@example.test>:\nPlease reset my password for the billing portal.');

    // winmail-dat-only-body.eml: the body exists only inside winmail.dat.
    expect.soft(await noteOf('Vertrag Globex')).toBe('Bitte den Vertrag fuer Globex bis Freitag pruefen.\nDanke, Ann');

    // undeclared-latin1.eml: raw 8-bit Latin-1 in the Subject and a text/plain body without a charset.
    const latin1 = await noteOf('Höchstgeschwindigkeit überschritten - Fahrzeug 7');
    for (const word of ['prüfen', 'Grüße', 'Jürgen']) expect.soft(latin1).toContain(word);
    expect.soft(latin1).not.toContain('\ufffd');

    // No text at all: the note says what the message held.
    expect.soft(await noteOf('Scan')).toBe('(no text: 2 attachments, image/png, application/pdf)');

    const comms: Array<{ id: number; messageId: string; subject: string }> = (await json(['comms', 'list', '--table', 'support'])).communications;
    expect.soft(comms.find((c) => c.messageId === 'latin1-raw-1@example.test')?.subject).toBe('Höchstgeschwindigkeit überschritten - Fahrzeug 7');
    const shown = await json(['comms', 'show', String(comms.find((c) => c.messageId === 'case01.html-only@example.test')!.id)]);
    expect(JSON.stringify(shown)).toContain('jam.png');
  });
});
