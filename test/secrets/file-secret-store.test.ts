import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileSecretStore } from '../../src/secrets/file-secret-store.js';
import { useTempDirs } from '../helpers/temp-dir.js';

describe('encrypted file secret store', () => {
  const tempDir = useTempDirs();
  const open = (dir: string, masterKey?: string) =>
    new FileSecretStore({ path: join(dir, 'secrets.enc'), keyPath: join(dir, 'master.key'), masterKey });

  it('stores, reads and deletes; the file and key are 0600 and hold no clear text', async () => {
    const dir = tempDir();
    const store = open(dir);
    await store.set('props/outbound/a', 'Xy8Q~very-secret-value');
    await store.set('kb/refkey/k1', 'another-secret');
    expect(await store.get('props/outbound/a')).toBe('Xy8Q~very-secret-value');
    expect(await open(dir).get('kb/refkey/k1')).toBe('another-secret'); // a new process reads it back
    const text = readFileSync(join(dir, 'secrets.enc'), 'utf8');
    expect(text).not.toContain('very-secret');
    expect(text).not.toContain('another-secret');
    expect(statSync(join(dir, 'secrets.enc')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'master.key')).mode & 0o777).toBe(0o600);
    expect(await store.delete('props/outbound/a')).toBe(true);
    expect(await store.delete('props/outbound/a')).toBe(false);
    expect(await store.get('props/outbound/a')).toBeUndefined();
  });

  it('uses MAILCTL_MASTER_KEY (hex or passphrase) and fails clearly with the wrong one', async () => {
    const dir = tempDir();
    await open(dir, 'correct horse battery staple').set('k', 'v1');
    expect(await open(dir, 'correct horse battery staple').get('k')).toBe('v1');
    await expect(open(dir, 'wrong passphrase').get('k')).rejects.toMatchObject({ code: 'E_SECRET_DECRYPT' });

    const hexDir = tempDir();
    const hex = 'ab'.repeat(32);
    await open(hexDir, hex).set('k', 'v2');
    expect(await open(hexDir, hex).get('k')).toBe('v2');
  });

  it('detects an entry moved to another name (the name is authenticated)', async () => {
    const dir = tempDir();
    const store = open(dir);
    await store.set('a', 'secret-a');
    await store.set('b', 'secret-b');
    const file = JSON.parse(readFileSync(join(dir, 'secrets.enc'), 'utf8'));
    file.entries.b = file.entries.a;
    writeFileSync(join(dir, 'secrets.enc'), JSON.stringify(file));
    await expect(open(dir).get('b')).rejects.toMatchObject({ code: 'E_SECRET_DECRYPT' });
  });

  it('reports a broken file without touching it', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'secrets.enc'), '{not json');
    await expect(open(dir).set('x', 'y')).rejects.toMatchObject({ code: 'E_SECRET_FILE' });
    expect(readFileSync(join(dir, 'secrets.enc'), 'utf8')).toBe('{not json');
  });
});
