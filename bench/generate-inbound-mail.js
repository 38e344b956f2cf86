// Generated inbound mail for the ingest benchmark, written straight into a maildir's new/
// (as Dovecot's LDA would leave it: LF line endings), since an MTA would take minutes for
// 10,000 messages. Deterministic for a seed, except the reply tokens, whose nonces the
// reference codec draws itself.
import { chownSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** mulberry32: a small seeded PRNG, so every run writes the same mailbox. */
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const words = ('contract renewal agreement please find attached the signed copy of our revised terms for next year we would like to '
  + 'confirm pricing schedule delivery invoice approval review legal team meeting on thursday regarding clause liability '
  + 'payment net thirty days purchase order reference number project milestone update thanks regards best kind question '
  + 'could you send draft final version amendment effective date counterparty procurement budget quarter forecast').split(' ');
const partners = ['partner.test', 'initech.test', 'globex.test', 'umbrella.test', 'hooli.test', 'vandelay.test', 'wonka.test', 'stark.test'];
const names = ['Lee Park', 'Ana Souza', 'Ivan Petrov', 'Mia Chen', 'Omar Haddad', 'Sara Novak', 'Tom Becker', 'Yuki Sato', 'Eva Rossi', 'Raj Iyer'];

/**
 * Writes `count` messages into `maildir`/new: sizes log-uniform over 2–200 KB, every 100th a
 * 5 MB base64 attachment, every 5th a reply carrying `replyStamp(i)`'s reference (subject
 * token and References; every third of those the X-Mailctl-Ref header too), a few automatic
 * (newsletters), the rest new mail from `knownSenders` or strangers. Returns the counts.
 */
export function writeGeneratedMail({ maildir, count, seed = 8, owner, knownSenders, replyStamp, to = 'contracts@acme.test' }) {
  const rnd = seededRandom(seed);
  const pick = (list) => list[Math.floor(rnd() * list.length)];
  const hex = (n) => Array.from({ length: n }, () => Math.floor(rnd() * 16).toString(16)).join('');
  const textPool = makeTextPool(rnd, 600_000);
  const base64Pool = makeBase64Pool(rnd, 6 * 2 ** 20);
  const counts = { messages: 0, replies: 0, large: 0, automatic: 0, bytes: 0 };
  const start = Date.parse('2026-11-02T08:00:00Z');
  for (let i = 0; i < count; i++) {
    const at = new Date(start + i * 37_000 + Math.floor(rnd() * 30_000));
    const target = Math.round(2048 * 100 ** rnd()); // log-uniform 2 KB – 200 KB
    const reply = i % 5 === 0;
    const large = i % 100 === 37;
    const automatic = !reply && i % 100 < 10 && i % 5 === 3; // 2 in 100: newsletters
    const domain = pick(partners);
    const person = pick(names);
    const fromAddr = reply || automatic || rnd() >= 0.3 ? `${person.split(' ')[0].toLowerCase()}.${hex(3)}@${domain}` : pick(knownSenders);
    const from = automatic ? `"${domain} news" <news@${domain}>` : `"${person}" <${fromAddr}>`;
    const stamp = reply ? replyStamp(i) : null;
    const line = slice(textPool, rnd, 20).split('\n')[0].replace(/\.$/, '');
    const subject = stamp ? `RE: ${stamp.subject}` : automatic ? `${line.slice(0, 40)} - November update` : line.slice(0, 30 + Math.floor(rnd() * 40));
    const messageId = `${hex(16)}.${i}@${automatic ? 'mailer.' : 'mail.'}${domain}`;
    const headers = [
      `Return-Path: <${automatic ? `bounce-${hex(8)}@mailer.${domain}` : fromAddr}>`,
      `Delivered-To: ${to}`,
      ...receivedChain(rnd, hex, domain, at, to),
      `Authentication-Results: mx.acme.test; dkim=pass header.d=${domain} header.s=s1 header.b=${hex(8)}; spf=pass smtp.mailfrom=${domain}; dmarc=pass header.from=${domain}`,
      `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=${domain}; s=s1; t=${Math.floor(at.getTime() / 1000)};\n\th=from:to:subject:date:message-id:mime-version:content-type;\n\tbh=${b64(base64Pool, rnd, 44)};\n\tb=${fold(b64(base64Pool, rnd, 344))}`,
      `From: ${from}`,
      `To: Acme Contracts <${to}>`,
      `Subject: ${subject}`,
      `Date: ${at.toUTCString().replace('GMT', '+0000')}`,
      `Message-ID: <${messageId}>`,
      ...(stamp ? [`In-Reply-To: <${stamp.messageId}>`, `References: <${hex(12)}@records.acme.test>\n <${stamp.messageId}>`, `Thread-Topic: ${stamp.subject.replace(/\s*\[ref:[^\]]*\]$/, '')}`] : []),
      ...(stamp && i % 15 === 0 ? [`X-Mailctl-Ref: ${stamp.header}`] : []),
      ...(automatic ? [`List-Unsubscribe: <https://${domain}/u/${hex(20)}>`, 'List-Unsubscribe-Post: List-Unsubscribe=One-Click', `List-Id: <news.${domain}>`, 'Precedence: bulk'] : [`User-Agent: ${pick(['Microsoft Outlook 16.0', 'Mozilla Thunderbird 128.4', 'Apple Mail (2.3826)'])}`]),
      'MIME-Version: 1.0',
    ];
    const headerBytes = headers.join('\n').length;
    // Small mail is text + HTML; larger mail is large because of an attachment (a PDF here).
    const bodyBudget = Math.max(600, target - headerBytes - 600);
    const textBytes = bodyBudget < 40_000 ? Math.floor(bodyBudget * 0.3) : 1500 + Math.floor(rnd() * 6000);
    let text = slice(textPool, rnd, textBytes);
    if (stamp) text = `${slice(textPool, rnd, 300)}\n\nOn ${new Date(at.getTime() - 86_400_000).toUTCString()}, Acme Records <records@acme.test> wrote:\n${slice(textPool, rnd, Math.max(200, textBytes - 400)).replace(/^/gm, '> ')}`;
    const html = toHtml(text);
    const pdfBytes = bodyBudget - text.length - html.length;
    const alt = `b1_${hex(24)}`;
    const alternative = [
      `--${alt}`, 'Content-Type: text/plain; charset="utf-8"', 'Content-Transfer-Encoding: quoted-printable', '', text,
      `--${alt}`, 'Content-Type: text/html; charset="utf-8"', 'Content-Transfer-Encoding: quoted-printable', '', html,
      `--${alt}--`, '',
    ].join('\n');
    const attachments = [];
    if (pdfBytes > 4000) attachments.push(attachment('application/pdf', `${slice(textPool, rnd, 12).trim().replace(/\W+/g, '-')}.pdf`, b64Lines(base64Pool, rnd, Math.floor((pdfBytes * 3) / 4))));
    if (large) attachments.push(attachment('application/zip', `scans-${hex(4)}.zip`, b64Lines(base64Pool, rnd, 5 * 2 ** 20)));
    let body;
    if (attachments.length === 0) {
      headers.push(`Content-Type: multipart/alternative; boundary="${alt}"`);
      body = alternative;
    } else {
      const mixed = `b0_${hex(24)}`;
      headers.push(`Content-Type: multipart/mixed; boundary="${mixed}"`);
      body = [`--${mixed}`, `Content-Type: multipart/alternative; boundary="${alt}"`, '', alternative, ...attachments.flatMap((a) => [`--${mixed}`, a]), `--${mixed}--`, ''].join('\n');
    }
    const raw = Buffer.from(`${headers.join('\n')}\n\n${body}`);
    const name = `${Math.floor(at.getTime() / 1000)}.M${i}P1.bench`;
    writeFileSync(join(maildir, 'tmp', name), raw);
    if (owner) chownSync(join(maildir, 'tmp', name), owner.uid, owner.gid);
    renameSync(join(maildir, 'tmp', name), join(maildir, 'new', name));
    counts.messages++;
    counts.bytes += raw.length;
    if (reply) counts.replies++;
    if (large) counts.large++;
    if (automatic) counts.automatic++;
  }
  return counts;
}

function receivedChain(rnd, hex, domain, at, to) {
  const hops = 2 + Math.floor(rnd() * 3);
  const lines = [];
  for (let h = 0; h < hops; h++) {
    const when = new Date(at.getTime() + (hops - h) * 900).toUTCString().replace('GMT', '+0000');
    const ip = `203.0.113.${1 + Math.floor(rnd() * 250)}`;
    lines.push(h === 0
      ? `Received: from mail-${hex(4)}.${domain} (mail-${hex(4)}.${domain} [${ip}])\n\tby mx.acme.test (Postfix) with ESMTPS id ${hex(10).toUpperCase()}\n\tfor <${to}>; ${when}`
      : `Received: from internal-${h}.${domain} (10.${h}.${Math.floor(rnd() * 255)}.${Math.floor(rnd() * 255)})\n\tby mail-${hex(4)}.${domain} with SMTP id ${hex(16)}; ${when}`);
  }
  return lines;
}

function attachment(type, filename, base64) {
  return [`Content-Type: ${type}; name="${filename}"`, `Content-Disposition: attachment; filename="${filename}"`, 'Content-Transfer-Encoding: base64', '', base64].join('\n');
}

/** About `bytes` of wrapped prose (lines ≤ 76, no "=", so it is valid quoted-printable as is). */
function makeTextPool(rnd, bytes) {
  const lines = [];
  let size = 0;
  let line = '';
  let sentence = 0;
  while (size < bytes) {
    let word = words[Math.floor(rnd() * words.length)];
    if (sentence === 0) word = capitalise(word);
    sentence++;
    if (sentence > 8 + rnd() * 10) { word += '.'; sentence = 0; }
    if (line.length + word.length + 1 > 72) { lines.push(line); size += line.length + 1; line = word; } else line = line ? `${line} ${word}` : word;
    if (sentence === 0 && rnd() < 0.15) { lines.push(line, ''); size += line.length + 2; line = ''; }
  }
  return lines.join('\n');
}

/** Whole lines of the pool from a random paragraph on, about `bytes` long. */
function slice(pool, rnd, bytes) {
  const from = pool.indexOf('\n\n', Math.floor(rnd() * (pool.length - bytes - 2000))) + 2;
  const to = pool.indexOf('\n', from + bytes);
  return pool.slice(from, to === -1 ? undefined : to);
}

function toHtml(text) {
  const paragraphs = text.split(/\n\n+/).map((p) => `<p style=3D"margin:0 0 12px 0;font-family:Calibri,Arial,sans-serif;font-size:11pt">\n${p.replace(/^> /gm, '&gt; ')}\n</p>`);
  return `<html><head><meta http-equiv=3D"Content-Type" content=3D"text/html; charset=3Dutf-8"></head>\n<body>\n<div class=3D"WordSection1">\n${paragraphs.join('\n')}\n</div>\n</body></html>`;
}

/** Random bytes as base64 lines of 76, made once; attachments are slices of it. */
function makeBase64Pool(rnd, bytes) {
  const raw = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4) raw.writeUInt32LE(Math.floor(rnd() * 4294967296), i);
  return raw.toString('base64').replace(/.{76}/g, '$&\n');
}

function b64Lines(pool, rnd, rawBytes) {
  const lines = Math.ceil((rawBytes * 4) / 3 / 76);
  const maxStart = Math.floor(pool.length / 77) - lines - 1;
  const start = Math.floor(rnd() * Math.max(1, maxStart)) * 77;
  return pool.slice(start, start + lines * 77 - 1);
}

function b64(pool, rnd, chars) {
  const start = Math.floor(rnd() * 10_000) * 77;
  return pool.slice(start, start + chars + 10).replace(/\n/g, '').slice(0, chars);
}

function fold(value) {
  return value.replace(/.{70}/g, '$&\n\t ').trimEnd();
}

function capitalise(s) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
