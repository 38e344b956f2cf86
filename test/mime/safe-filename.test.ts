import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fallbackFilename, safeFilename, uniqueFilename } from '../../src/mime/safe-filename.js';
import { FsMessageStore } from '../../src/store/fs-message-store.js';
import { saveStoredContent } from '../../src/store/save-stored-content.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const bytes = (text: string) => Buffer.byteLength(text);

describe('file names from mail are made safe before a file is created', () => {
  const tempDir = useTempDirs();

  it('keeps only the last path segment, drops control characters, overrides and leading dots; empty becomes the fallback', () => {
    expect(safeFilename('contract.pdf', 'attachment-1')).toBe('contract.pdf');
    expect(safeFilename('../../etc/passwd', 'attachment-1')).toBe('passwd');
    expect(safeFilename('..\\..\\Windows\\win.ini', 'attachment-1')).toBe('win.ini');
    expect(safeFilename('/etc/', 'attachment-2')).toBe('attachment-2');
    expect(safeFilename('..', 'attachment-3')).toBe('attachment-3');
    expect(safeFilename('.bashrc', 'attachment-4')).toBe('bashrc');
    expect(safeFilename('evil\u001b[31m\u202efdp.exe', 'attachment-5')).toBe('evil[31mfdp.exe');
    expect(safeFilename('\u0000\u0007 ', 'attachment-6')).toBe('attachment-6');
    expect(safeFilename(null, 'attachment-7')).toBe('attachment-7');
    const long = safeFilename(`${'é'.repeat(300)}.pdf`, 'x');
    expect(bytes(long)).toBeLessThanOrEqual(255);
    expect(long.endsWith('é.pdf')).toBe(true);
  });

  it('leading dots and spaces are stripped until none is left: never a hidden file, never "." or ".."', () => {
    expect(safeFilename('. .bashrc', 'attachment-1')).toBe('bashrc');
    expect(safeFilename('. ..', 'attachment-2')).toBe('attachment-2');
    expect(safeFilename(' . . . ', 'attachment-3')).toBe('attachment-3');
    expect(safeFilename('.\u0000.\u202e.ssh', 'attachment-4')).toBe('ssh');
    expect(safeFilename('\u00a0.\t.profile', 'attachment-5')).toBe('profile');
    for (const name of ['.', '..', '. .', '.. ..', ' ..', '..\u200f']) {
      const safe = safeFilename(name, 'attachment-9');
      expect(safe, JSON.stringify(name)).toBe('attachment-9');
    }
  });

  it('an attachment without a name is attachment-N with its type\'s extension: a forwarded message is .eml', () => {
    expect(fallbackFilename(1, 'message/rfc822')).toBe('attachment-1.eml');
    expect(fallbackFilename(2, 'Application/PDF; name="x"')).toBe('attachment-2.pdf');
    expect(fallbackFilename(3, 'image/jpeg')).toBe('attachment-3.jpg');
    expect(fallbackFilename(4, 'application/x-unheard-of')).toBe('attachment-4');
    expect(safeFilename('..', fallbackFilename(5, 'message/rfc822'))).toBe('attachment-5.eml');
  });

  it('names are bounded in UTF-8 bytes, also with a number added and in the temporary file beside: a long CJK name saves', async () => {
    const cjk = safeFilename(`${'漢'.repeat(200)}.pdf`, 'x');
    expect(bytes(cjk)).toBeLessThanOrEqual(255);
    expect(cjk.endsWith('漢.pdf')).toBe(true);
    const taken = new Set<string>();
    expect(uniqueFilename(cjk, 12, taken)).toBe(cjk);
    const second = uniqueFilename(cjk, 13, taken);
    expect(bytes(second)).toBeLessThanOrEqual(255);
    expect(second.endsWith('漢-13.pdf')).toBe(true);
    const third = uniqueFilename(cjk, 13, taken);
    expect(bytes(third)).toBeLessThanOrEqual(255);
    expect(third.endsWith('-13-2.pdf')).toBe(true);

    // Saved under that name: the temporary file (".NAME.mailctl-xxxxxxxx") must fit in 255 bytes too.
    const dir = tempDir();
    const store = new FsMessageStore(join(dir, 'messages'));
    const batch = store.batch();
    const blob = await batch.put(Buffer.from('%PDF-1.4 漢字'));
    await batch.commit();
    for (const name of [cjk, `${'文'.repeat(83)}.pdf`]) {
      const out = join(dir, name);
      expect(await saveStoredContent(store, blob.hash, out, { overwrite: false })).toBe(bytes('%PDF-1.4 漢字'));
      expect(readFileSync(out, 'utf8')).toBe('%PDF-1.4 漢字');
      expect(await saveStoredContent(store, blob.hash, out, { overwrite: true })).toBe(bytes('%PDF-1.4 漢字'));
    }
    expect(readdirSync(dir).filter((f) => f.includes('mailctl-'))).toEqual([]);
  });

  it('a second attachment of the same name gets its position', () => {
    const taken = new Set<string>();
    expect(uniqueFilename('notes.txt', 5, taken)).toBe('notes.txt');
    expect(uniqueFilename('notes.txt', 6, taken)).toBe('notes-6.txt');
    expect(uniqueFilename('README', 7, taken)).toBe('README');
    expect(uniqueFilename('README', 8, taken)).toBe('README-8');
  });
});
