import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findOccurrences } from '../../src/config/properties.js';
import { dropUnusedSecrets, externalizeSecrets, materializeSecrets, secretRefsIn } from '../../src/config/property-secrets.js';
import { FileSecretStore } from '../../src/secrets/file-secret-store.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const microsoft = [
  '# Microsoft 365 (client credentials)\r\n',
  'mail.smtp.oauth2.client_id=11111111-2222-3333-4444-555555555555\r\n',
  'mail.smtp.oauth2.client_secret=Abc8Q~old.secret_value-1234\r\n',
  'mail.imap.oauth2.client_secret = Abc8Q~old.secret_value-1234\r\n',
  'client_secret=Abc8Q~old.secret_value-1234\r\n',
  'mail.smtp.password=hunter2\r\n',
  'mail.smtp.host=smtp.office365.com\r\n',
].join('');

describe('secret values in properties', () => {
  const tempDir = useTempDirs();

  it('moves every secret value to the store, keeps all other bytes, and restores the exact text', async () => {
    const dir = tempDir();
    const store = new FileSecretStore({ path: join(dir, 's.enc'), keyPath: join(dir, 'k') });
    const stored = await externalizeSecrets(microsoft, 'outbound', store);
    expect(stored).not.toContain('Abc8Q~old');
    expect(stored).not.toContain('hunter2');
    expect(stored).toContain('mail.smtp.host=smtp.office365.com\r\n');
    expect(stored).toContain('mail.smtp.oauth2.client_id=11111111-2222-3333-4444-555555555555\r\n');
    expect(secretRefsIn(stored)).toHaveLength(4);
    // Each occurrence has its own secret, so a differing one stays visible later.
    expect(new Set(secretRefsIn(stored)).size).toBe(4);
    for (const o of findOccurrences(stored, 'client_secret')) expect(o.value).toMatch(/^\$\{secret:props\/outbound\/[0-9a-f]{12}\}$/);
    expect(await materializeSecrets(stored, store)).toBe(microsoft);
    // Storing the stored form again changes nothing.
    expect(await externalizeSecrets(stored, 'outbound', store)).toBe(stored);
  });

  it('drops secrets that a new blob no longer refers to', async () => {
    const dir = tempDir();
    const store = new FileSecretStore({ path: join(dir, 's.enc'), keyPath: join(dir, 'k') });
    const before = await externalizeSecrets('client_secret=one\npassword=two\n', 'outbound', store);
    const [first, second] = secretRefsIn(before);
    const after = before.split('\n').filter((l) => !l.startsWith('password')).join('\n');
    await dropUnusedSecrets(before, after, store);
    expect(await store.get(first!)).toBe('one');
    expect(await store.get(second!)).toBeUndefined();
  });

  it('says which key lost its secret', async () => {
    const dir = tempDir();
    const store = new FileSecretStore({ path: join(dir, 's.enc'), keyPath: join(dir, 'k') });
    await expect(materializeSecrets('a=1\nclient_secret=${secret:props/outbound/gone}\n', store))
      .rejects.toMatchObject({ code: 'E_SECRET_MISSING', message: expect.stringContaining('line 2') });
  });
});
