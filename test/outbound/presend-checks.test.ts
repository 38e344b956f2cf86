import { describe, expect, it } from 'vitest';
import { checkDraft, checkServerSize } from '../../src/outbound/presend-checks.js';

const limits = { maxBodySize: 1024 * 1024, maxAttachmentSize: 10 * 1024 * 1024 };
const draft = { from: 'records@acme.test', to: ['pat@acme.test'], subject: 'Renewal', text: 'Hello' };

describe('pre-send checks', () => {
  it('passes a normal message', () => {
    expect(() => checkDraft(draft, limits)).not.toThrow();
  });

  it('refuses a missing or invalid from-address (an empty field value)', () => {
    expect(() => checkDraft({ ...draft, from: '' }, limits)).toThrowError(expect.objectContaining({ code: 'E_FROM_MISSING', exitCode: 18 }));
    expect(() => checkDraft({ ...draft, from: '   ' }, limits)).toThrowError(expect.objectContaining({ code: 'E_FROM_MISSING' }));
    expect(() => checkDraft({ ...draft, from: '{contact.email}' }, limits)).toThrowError(expect.objectContaining({ code: 'E_FROM_INVALID' }));
  });

  it('names the limit and the size for a body over max_body_size', () => {
    const big = { ...draft, text: 'x'.repeat(1024 * 1024 + 1) };
    expect(() => checkDraft(big, limits)).toThrowError(/body is 1\.0 MB \(1048577 bytes\), over max_body_size 1MB/);
  });

  it('adds attachments together against max_attachment_size', () => {
    const six = Buffer.alloc(6 * 1024 * 1024);
    expect(() => checkDraft({ ...draft, attachments: [{ filename: 'a.pdf', content: six }] }, limits)).not.toThrow();
    expect(() => checkDraft({ ...draft, attachments: [{ filename: 'a.pdf', content: six }, { filename: 'b.pdf', content: six }] }, limits))
      .toThrowError(/attachments are 12 MB \(12582912 bytes\) together, over max_attachment_size 10MB/);
  });

  it('refuses header injection in the subject and bad recipients', () => {
    expect(() => checkDraft({ ...draft, subject: 'Hi\r\nBcc: all@acme.test' }, limits)).toThrowError(expect.objectContaining({ code: 'E_SUBJECT_INVALID' }));
    expect(() => checkDraft({ ...draft, to: [] }, limits)).toThrowError(expect.objectContaining({ code: 'E_TO_MISSING' }));
    expect(() => checkDraft({ ...draft, to: ['pat'] }, limits)).toThrowError(expect.objectContaining({ code: 'E_TO_INVALID' }));
  });

  it('respects the server-advertised SIZE', () => {
    expect(() => checkServerSize(5000, 0)).not.toThrow();
    expect(() => checkServerSize(5000, 5000)).not.toThrow();
    expect(() => checkServerSize(5001, 5000)).toThrowError(expect.objectContaining({ code: 'E_SERVER_SIZE' }));
  });
});
