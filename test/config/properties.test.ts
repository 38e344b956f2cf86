import { describe, expect, it } from 'vitest';
import { findOccurrences, parseProperties, propertiesToMap, replaceValueAt, serializeProperties } from '../../src/config/properties.js';

// What admins paste: provider docs, CRLF from Windows, comments, duplicates, "=" in values.
const messy = [
  '# Microsoft 365 OAuth for SMTP\r\n',
  'mail.smtp.auth.mechanisms=XOAUTH2\r\n',
  '\r\n',
  '  ! legacy comment style\r\n',
  'mail.smtp.oauth2.client_secret = s3cr~et==with=equals   \r\n',
  'client_secret=s3cr~et==with=equals\n',
  'mail.imap.oauth2.client_secret:s3cr~et==with=equals\n',
  'token_url=https://login.microsoftonline.com/tenant/oauth2/v2.0/token?a=b&c=d\n',
  'client_id=11111111-2222-3333-4444-555555555555\n',
  'client_id=duplicate-key-kept\n',
  '\ttabbed.key\t=\tvalue with spaces\t\n',
  'just some text without a separator\n',
  '=no key\n',
  'unknown.vendor.setting=1\r',
  'last_line_without_newline=yes',
].join('');

describe('configuration properties', () => {
  it('round-trips messy input byte for byte', () => {
    expect(serializeProperties(parseProperties(messy))).toBe(messy);
    for (const sample of ['', '\n', '\r\n\r\n', 'a=b', 'a=b\n\n\n', '# only a comment', 'x=1\r\ny=2\r\n', '\n\r\n\r']) {
      expect(serializeProperties(parseProperties(sample))).toBe(sample);
    }
  });

  it('classifies lines', () => {
    const kinds = parseProperties(messy).map((l) => l.kind);
    expect(kinds).toEqual(['comment', 'entry', 'blank', 'comment', 'entry', 'entry', 'entry', 'entry', 'entry', 'entry', 'entry', 'other', 'other', 'entry', 'entry']);
  });

  it('finds every client_secret, prefixed keys and ":" separators included', () => {
    const found = findOccurrences(messy, 'client_secret');
    expect(found.map((o) => [o.line, o.key, o.value])).toEqual([
      [5, 'mail.smtp.oauth2.client_secret', 's3cr~et==with=equals'],
      [6, 'client_secret', 's3cr~et==with=equals'],
      [7, 'mail.imap.oauth2.client_secret', 's3cr~et==with=equals'],
    ]);
    expect(findOccurrences(messy, 'secret')).toEqual([]); // "client_secret" is not "secret"
  });

  it('replaces only the value text; keys, "=", spacing and line endings stay', () => {
    let blob = messy;
    for (const o of findOccurrences(messy, 'client_secret')) blob = replaceValueAt(blob, o.index, 'NEW-value');
    const expected = messy.replaceAll('s3cr~et==with=equals', 'NEW-value');
    expect(blob).toBe(expected);
    expect(Buffer.from(blob).length).toBe(Buffer.from(messy).length - 3 * ('s3cr~et==with=equals'.length - 'NEW-value'.length));
  });

  it('refuses to put a line break into a value', () => {
    expect(() => replaceValueAt('a=b\n', 0, 'x\ny=z')).toThrow(/line break/);
  });

  it('keeps duplicate keys (last wins only in the map view)', () => {
    expect(findOccurrences(messy, 'client_id').map((o) => o.value)).toEqual(['11111111-2222-3333-4444-555555555555', 'duplicate-key-kept']);
    expect(propertiesToMap(messy).get('client_id')).toBe('duplicate-key-kept');
    expect(propertiesToMap(messy).get('tabbed.key')).toBe('value with spaces');
  });
});
