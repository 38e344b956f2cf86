import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { cut, mailLine, mailText, printable } from '../../src/ui/output.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { ingestAt } from '../store/store-fixture.js';

/** Terminal controls that must never reach the screen from mail: ESC, CSI, BEL, CR, and the bidirectional overrides. */
// eslint-disable-next-line no-control-regex
const unsafe = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('text from mail cannot drive the admin\'s terminal', () => {
  const tempDir = useTempDirs();

  it('a record title (as made from a subject) with ESC[2J and a line break is shown as pictures, one row; --json keeps it exact', async () => {
    const env = { MAILCTL_HOME: tempDir(), MAILCTL_SECRET_BACKEND: 'file' };
    await runCli(['init', '--name', 'acme', '--url', 'https://records.acme.test', '--environment', 'production'], { env });
    await runCli(['tables', 'add', 'contracts'], { env });
    const hostile = 'Invoice\u001b[2J\u001b]0;pwned\u0007\r\nBcc: x';
    expect((await runCli(['records', 'add', '--table', 'contracts', '--title', hostile], { env })).code).toBe(0);
    const list = await runCli(['records', 'list'], { env });
    expect(list.code).toBe(0);
    expect(list.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(list.stdout).toContain('Invoice␛[2J␛]0;pwned␇␤Bcc: x');
    expect(list.stdout.trim().split('\n')).toHaveLength(2); // the header and one row
    const json = JSON.parse((await runCli(['records', 'list', '--json'], { env })).stdout);
    expect(json.records[0].title).toBe(hostile);
  });

  it('comms show / list and records show / list: a subject with a line break cannot forge a line; ESC[8m, U+202E and CR from mail are shown, never obeyed', async () => {
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file' };
    await runCli(['init', '--name', 'acme', '--url', 'https://records.acme.test', '--environment', 'production'], { env });
    await runCli(['tables', 'add', 'contracts'], { env });
    await runCli(['contacts', 'add', 'pat@acme.test', '--can-create', 'contracts'], { env });
    // An encoded-word subject may carry any character: here a line that looks like ours.
    const subject = 'Invoice 42\n  disposition  record-updated: trusted sender\r\u001b[8mhidden\u001b[0m \u202eevil';
    const raw = ['From: pat@acme.test', 'To: contracts@acme.test', `Subject: =?UTF-8?B?${Buffer.from(subject).toString('base64')}?=`, 'Message-ID: <spoof-1@acme.test>',
      'Date: Fri, 27 Nov 2026 10:00:00 +0000', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '',
      'first line', 'visible \u001b[8mhidden\u001b[0m \u202eevil', ''].join('\r\n');
    const [taken] = await ingestAt(home, [{ raw, at: new Date() }]);
    const id = taken!.communicationId;
    const data = JSON.parse((await runCli(['comms', 'show', String(id), '--json'], { env })).stdout);
    expect(data.communication.subject).toBe(subject); // exact in JSON
    const recordId = data.communication.recordId as number;
    // Who updated a record and who wrote a note come from mail too (a sender's address, a guest's name).
    const db = new Database(join(home, 'mailctl.db'));
    db.prepare('UPDATE records SET updated_by = ? WHERE id = ?').run('pat\u001b[8m@evil\u001b[0m\n  table: x', recordId);
    db.prepare('UPDATE record_notes SET author = ? WHERE record_id = ?').run('Mallory \u202etxt.exe\u001b]0;pwned\u0007', recordId);
    db.close();

    const show = await runCli(['comms', 'show', String(id)], { env });
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).not.toMatch(unsafe);
    expect(show.stdout.split('\n').filter((l) => /^\s*disposition\s/.test(l))).toHaveLength(1); // ours, not the subject's
    expect(show.stdout).toMatch(/subject\s+Invoice 42␤  disposition  record-updated: trusted sender␍␛\[8mhidden␛\[0m <U\+202E>evil\n/);
    expect(show.stdout).toContain('visible ␛[8mhidden␛[0m <U+202E>evil'); // the text: its lines kept, controls shown

    const list = await runCli(['comms', 'list'], { env: { ...env, COLUMNS: '400' } });
    expect(list.stdout).not.toMatch(unsafe);
    expect(list.stdout.trimEnd().split('\n')).toHaveLength(2); // the header and one row
    expect(list.stdout).toContain('Invoice 42␤  disposition  record-up');

    const record = await runCli(['records', 'show', String(recordId)], { env });
    expect(record.code, record.stderr).toBe(0);
    expect(record.stdout).not.toMatch(unsafe);
    expect(record.stdout).toContain('updated by pat␛[8m@evil␛[0m␤  table: x at ');
    expect(record.stdout.split('\n').filter((l) => /^\s*table:/.test(l))).toHaveLength(1);
    expect(record.stdout).toContain('Mallory <U+202E>txt.exe␛]0;pwned␇ (communication');
    expect(record.stdout).toContain('    visible ␛[8mhidden␛[0m <U+202E>evil');
    const records = await runCli(['records', 'list'], { env });
    expect(records.stdout).not.toMatch(unsafe);
    expect(records.stdout).toContain('pat␛[8m@evil␛[0m␤  table: x');
  });

  it('printable keeps line feeds and tabs, and lets no escape through — not even a colour: Output adds its own after (issue 14)', () => {
    expect(printable('a\tb\nc')).toBe('a\tb\nc');
    expect(printable('\u001b[32m✓\u001b[39m ok')).toBe('␛[32m✓␛[39m ok');
    expect(printable('x\u0000y\u007fz\u009b')).toBe('x␀y␡z\ufffd');
    expect(printable('a\u200eb\u200fc\u061cd\u202ae\u2069')).toBe('a<U+200E>b<U+200F>c<U+061C>d<U+202A>e<U+2069>');
  });

  it('the bidi marks U+200E, U+200F and U+061C from a subject, a sender and a note are shown, not obeyed, by comms list/show and records show (issue 14)', async () => {
    const home = tempDir();
    const env = { MAILCTL_HOME: home, MAILCTL_SECRET_BACKEND: 'file', COLUMNS: '400' };
    await runCli(['init', '--name', 'acme', '--url', 'https://records.acme.test', '--environment', 'production'], { env });
    await runCli(['tables', 'add', 'contracts'], { env });
    await runCli(['contacts', 'add', 'pat@acme.test', '--can-create', 'contracts'], { env });
    // "invoice.exe" that a right-to-left mark and an Arabic letter mark make read otherwise.
    const subject = 'Contract \u200fexe.pdf\u200e \u061cpaid';
    const name = 'Pat \u200fAdmin\u200e';
    const raw = ['From: =?UTF-8?B?' + Buffer.from(name).toString('base64') + '?= <pat@acme.test>', 'To: contracts@acme.test', `Subject: =?UTF-8?B?${Buffer.from(subject).toString('base64')}?=`,
      'Message-ID: <bidi-1@acme.test>', 'Date: Fri, 27 Nov 2026 10:00:00 +0000', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '',
      'body \u200fmarked\u061c text', ''].join('\r\n');
    const [taken] = await ingestAt(home, [{ raw, at: new Date() }]);
    const id = taken!.communicationId;
    const data = JSON.parse((await runCli(['comms', 'show', String(id), '--json'], { env })).stdout);
    expect(data.communication.subject).toBe(subject); // exact in JSON
    const recordId = data.communication.recordId as number;
    const db = new Database(join(home, 'mailctl.db'));
    db.prepare('UPDATE record_notes SET author = ? WHERE record_id = ?').run('Mallory \u200ftxt.exe\u061c', recordId);
    db.close();

    const marks = /[\u061c\u200e\u200f]/;
    const list = await runCli(['comms', 'list'], { env });
    expect(list.stdout).not.toMatch(marks);
    expect(list.stdout).toContain('Contract <U+200F>exe.pdf<U+200E> <U+061'); // the SUBJECT column is 40 wide
    const show = await runCli(['comms', 'show', String(id)], { env });
    expect(show.stdout).not.toMatch(marks);
    expect(show.stdout).toContain('body <U+200F>marked<U+061C> text');
    const record = await runCli(['records', 'show', String(recordId)], { env });
    expect(record.stdout).not.toMatch(marks);
    expect(record.stdout).toContain('Contract <U+200F>exe.pdf<U+200E> <U+061C>paid');
    expect(record.stdout).toContain('Mallory <U+200F>txt.exe<U+061C>');
    const records = await runCli(['records', 'list'], { env });
    expect(records.stdout).not.toMatch(marks);
  });

  it('mailText (text that came with a message) lets no ESC through, not even colours, and shows bidirectional overrides', () => {
    expect(mailText('a\u001b[8mhidden\u001b[0m\tb\nc')).toBe('a␛[8mhidden␛[0m\tb\nc');
    expect(mailText('evil\u202efdp.exe \u2067x\u2069')).toBe('evil<U+202E>fdp.exe <U+2067>x<U+2069>');
    expect(mailText('\r\u0000\u007f\u009b')).toBe('␍␀␡\ufffd');
    expect(mailText('\u200f\u200e\u061c')).toBe('<U+200F><U+200E><U+061C>');
    expect(cut('0123456789', 5)).toBe('0123…');
  });

  it('mailLine (a one-line field from mail) shows line breaks as ␤ and a lone CR as ␍, besides all mailText does', () => {
    expect(mailLine('a\nb\r\nc\rd\u2028e\tf')).toBe('a␤b␤c␍d␤e f');
    expect(mailLine('x\u001b[8my\u202ez')).toBe('x␛[8my<U+202E>z');
    expect(cut('01234', 5)).toBe('01234');
  });
});
