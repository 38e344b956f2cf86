import { describe, expect, it } from 'vitest';
import { cut, mailText, printable } from '../../src/ui/output.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

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

  it('printable keeps line feeds, tabs and our own colours', () => {
    expect(printable('a\tb\nc')).toBe('a\tb\nc');
    expect(printable('\u001b[32m✓\u001b[39m ok')).toBe('\u001b[32m✓\u001b[39m ok');
    expect(printable('x\u0000y\u007fz\u009b')).toBe('x␀y␡z\ufffd');
  });

  it('mailText (text that came with a message) lets no ESC through, not even colours, and shows bidirectional overrides', () => {
    expect(mailText('a\u001b[8mhidden\u001b[0m\tb\nc')).toBe('a␛[8mhidden␛[0m\tb\nc');
    expect(mailText('evil\u202efdp.exe \u2067x\u2069')).toBe('evil<U+202E>fdp.exe <U+2067>x<U+2069>');
    expect(mailText('\r\u0000\u007f\u009b')).toBe('␍␀␡\ufffd');
    expect(cut('0123456789', 5)).toBe('0123…');
    expect(cut('01234', 5)).toBe('01234');
  });
});
