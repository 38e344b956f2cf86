import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../../helpers/dovecot.js';
import { crlf, headers, maxText, MB, runHugeCase, type HugeCase } from '../../helpers/huge-message.js';
import { bySize, reliabilityTier } from '../../helpers/reliability-tier.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

/**
 * Issue 14, item 3, beyond plain text (see huge-text.test.ts): a huge HTML-only body, and a
 * huge text body followed by a big text/plain file attached — the text is cut, the attached
 * file (mailparser's attachment, not text) is kept whole. On 3dc5187 the CI tier peaked at
 * 530 MB and 580 MB.
 */
const partSize = bySize(200 * MB, 100 * MB);
const attachmentSize = bySize(50 * MB, 20 * MB);

/** About 1 MB of numbered plain lines (whole lines, so copies stay line-aligned). */
const plainBlock = crlf(Array.from({ length: 14_000 }, (_, i) => `Line ${String(i).padStart(5, '0')}: the quick brown fox jumps over the lazy dog, again.`));
/** Quoted-printable UTF-8 HTML, about 1 MB, in whole lines under 76 characters. */
const htmlBlock = crlf(Array.from({ length: 16_000 }, (_, i) => `<p>Paragraphe ${i} du rapport: caf=C3=A9 cr=C3=A8me</p>`));
const logBlock = crlf(Array.from({ length: 14_000 }, (_, i) => `log ${String(i).padStart(5, '0')} INFO worker started, nothing to report here.`));
const logCopies = Math.floor(attachmentSize / logBlock.length);

const cases: HugeCase[] = [
  {
    name: `a ${partSize / MB} MB HTML-only body (quoted-printable UTF-8)`,
    user: 'html@acme.test',
    pieces: () => [
      { data: headers('html@acme.test', 'html', ['MIME-Version: 1.0', 'Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable']) },
      { data: crlf(['<html><body>']) },
      { data: htmlBlock, repeat: partSize },
    ],
    check: (r) => {
      expect(r.html!.startsWith('<html><body>\n<p>Paragraphe 0 du rapport: caf\u00e9 cr\u00e8me</p>')).toBe(true);
      expect(r.html!.length).toBeGreaterThan(maxText - 100);
      expect(r.html!.length).toBeLessThanOrEqual(maxText);
      // The text is made from the HTML that was kept.
      expect(r.text!.startsWith('Paragraphe 0 du rapport: caf\u00e9 cr\u00e8me')).toBe(true);
      expect(r.text!.length).toBeGreaterThan(100_000);
    },
  },
  {
    name: `a ${partSize / MB} MB text body, then a ${attachmentSize / MB} MB text/plain file attached`,
    user: 'attached@acme.test',
    pieces: () => [
      { data: headers('attached@acme.test', 'attached', ['MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="mix"']) },
      { data: crlf(['--mix', 'Content-Type: text/plain; charset=utf-8', '', 'Start of the report.']) },
      { data: plainBlock, repeat: partSize },
      { data: crlf(['--mix', 'Content-Type: text/plain; charset=utf-8', 'Content-Disposition: attachment; filename="worker.log"', '']) },
      { data: logBlock, repeat: attachmentSize },
      { data: crlf(['--mix--']) },
    ],
    attachment: () => {
      // The CRLF before the closing delimiter belongs to the delimiter, not to the file.
      const hash = createHash('sha256');
      for (let i = 0; i < logCopies - 1; i++) hash.update(logBlock);
      hash.update(logBlock.subarray(0, logBlock.length - 2));
      return { sha256: hash.digest('hex'), size: logCopies * logBlock.length - 2 };
    },
    check: (r) => {
      expect(r.text!.startsWith('Start of the report.\nLine 00000: the quick brown fox')).toBe(true);
      expect(r.text!.length).toBeGreaterThan(maxText - 100);
      expect(r.text!.length).toBeLessThanOrEqual(maxText);
      expect(r.attachments.map((a) => [a.filename, a.contentType])).toEqual([['worker.log', 'text/plain']]);
    },
  },
];

describe(`huge HTML and text beside an attached text file (${reliabilityTier} tier): daemon --once under 300 MB`, () => {
  const tempDir = useTempDirs();
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot({ users: cases.map((c) => ({ name: c.user, password: 'pw' })) });
  }, 60_000);
  afterAll(() => dovecot?.stop());

  for (const c of cases) {
    it(`${c.name}: recorded cut, raw kept whole, the next message taken`, () => runHugeCase(dovecot, tempDir(), c), bySize(900_000, 120_000));
  }
});
