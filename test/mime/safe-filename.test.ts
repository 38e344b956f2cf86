import { describe, expect, it } from 'vitest';
import { safeFilename, uniqueFilename } from '../../src/mime/safe-filename.js';

describe('file names from mail are made safe before a file is created', () => {
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
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(255);
    expect(long.endsWith('é.pdf')).toBe(true);
  });

  it('a second attachment of the same name gets its position', () => {
    const taken = new Set<string>();
    expect(uniqueFilename('notes.txt', 5, taken)).toBe('notes.txt');
    expect(uniqueFilename('notes.txt', 6, taken)).toBe('notes-6.txt');
    expect(uniqueFilename('README', 7, taken)).toBe('README');
    expect(uniqueFilename('README', 8, taken)).toBe('README-8');
  });
});
