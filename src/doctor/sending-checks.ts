import { queuedAttachmentSize, type QueuedAttachment } from '../store/queue-repo.js';
import { isEmailAddress } from '../config/globals.js';
import { approxSize, formatSize } from '../config/units.js';
import type { DoctorCheck } from './finding.js';

/** Mail still waiting to go: what a limit or a bad sender would stop. */
const waiting = "('queued', 'deferred', 'held')";
/** How far back doctor looks at what already happened in the queue. */
export const lookBackDays = 7;

/** Replies that mean "this message is too big" (RFC 5321 552, RFC 3463 5.3.4, the providers' words). */
const sizeError = /\b552\b|5\.3\.4|exceeds? .*(size|limit)|too (big|large)|size (limit|larger)|E_SERVER_SIZE/i;
/** Replies that mean "you may not send as this from-address". */
const senderError = /5\.1\.[078]\b|5\.7\.60\b|SendAsDenied|sender address rejected|not owned by user|\b553\b/i;

function since(now: Date, days: number): string {
  return new Date(now.getTime() - days * 86_400_000).toISOString();
}

/** Providers that refuse a From other than the signed-in mailbox unless "Send As" is granted. */
function strictSenderProvider(host: string | undefined, provider: string | undefined): string | undefined {
  if (provider === 'microsoft' || /(^|\.)office365\.com$|(^|\.)outlook\.com$/i.test(host ?? '')) return 'Microsoft 365';
  if (provider === 'google' || /(^|\.)gmail\.com$|(^|\.)googlemail\.com$/i.test(host ?? '')) return 'Gmail';
  return undefined;
}

/** The source guide's "Some emails won't send": the from-address and the size limits. */
export const sendingChecks: DoctorCheck[] = [
  {
    id: 'outbound.from-address',
    symptom: 'wont-send',
    areas: ['outbound'],
    network: false,
    run({ config }, report) {
      const outbound = config.outbound;
      if (!outbound?.host) return; // "no outbound server" is reported by the login check
      const from = (outbound.from ?? '').trim();
      if (from === '' || !isEmailAddress(from)) {
        report.finding({
          check: this.id, symptom: this.symptom, severity: 'error',
          title: from === '' ? 'The outbound server has no from-address' : `The from-address "${outbound.from}" is not a valid email address`,
          seen: `outbound.from = "${outbound.from ?? ''}"`,
          cause: 'Every message needs a valid from-address; without one nothing is sent (the source guide: never use a field that can be empty).',
          fix: 'Set a fixed, valid from-address for the outbound server.',
          command: 'mailctl configure server --from records@example.com',
        });
        return;
      }
      const auth = outbound.auth;
      const login = auth && auth.type !== 'none' ? auth.username : undefined;
      const strict = strictSenderProvider(outbound.host, auth?.type === 'oauth2' ? auth.provider : undefined);
      if (strict && login && isEmailAddress(login) && login.toLowerCase() !== from.toLowerCase()) {
        report.finding({
          check: this.id, symptom: this.symptom, severity: 'warning',
          title: `The from-address ${from} is not the mailbox that logs in (${login})`,
          seen: `outbound.from = ${from}, login = ${login}, server ${outbound.host}`,
          cause: `${strict} refuses mail whose From is another mailbox unless that mailbox granted "Send As" (or "Send mail as") to ${login}.`,
          fix: `Grant ${login} Send As on ${from} at the provider, or make the from-address ${login}.`,
          command: `mailctl configure server --from ${login}`,
        });
        return;
      }
      report.passed({ check: this.id, symptom: this.symptom, summary: `from-address ${from}` });
    },
  },
  {
    id: 'queue.over-limits',
    symptom: 'wont-send',
    areas: ['queue'],
    network: false,
    run({ db, globals }, report) {
      // A cheap SQL bound first, the exact sizes (kept in each attachment's entry) only for candidates.
      const rows = db.prepare(`SELECT id, status, length(CAST(body AS BLOB)) AS bodyBytes, attachments_json AS attachments FROM outbound_queue
        WHERE status IN ${waiting} AND (length(CAST(body AS BLOB)) > ? OR attachments_json != '[]')`)
        .all(globals.max_body_size) as Array<{ id: number; status: string; bodyBytes: number; attachments: string }>;
      const over: Array<{ id: number; text: string }> = [];
      for (const row of rows) {
        const attached = (JSON.parse(row.attachments) as QueuedAttachment[]).reduce((sum, a) => sum + queuedAttachmentSize(a), 0);
        if (row.bodyBytes > globals.max_body_size) over.push({ id: row.id, text: `#${row.id} (${row.status}): body ${approxSize(row.bodyBytes)} > max_body_size ${formatSize(globals.max_body_size)}` });
        else if (attached > globals.max_attachment_size) over.push({ id: row.id, text: `#${row.id} (${row.status}): attachments ${approxSize(attached)} > max_attachment_size ${formatSize(globals.max_attachment_size)}` });
      }
      if (over.length === 0) {
        report.passed({ check: this.id, symptom: this.symptom, summary: `no waiting message is over max_body_size ${formatSize(globals.max_body_size)} or max_attachment_size ${formatSize(globals.max_attachment_size)}` });
        return;
      }
      report.finding({
        check: this.id, symptom: this.symptom, severity: 'warning',
        title: `${over.length} waiting message(s) are over today's size limits`,
        seen: over.slice(0, 5).map((o) => o.text).join('; ') + (over.length > 5 ? `; and ${over.length - 5} more` : ''),
        cause: 'They were queued before the limits were lowered; a message over the limits would be refused if it were sent today, and the server may refuse it too.',
        fix: 'Delete each (mailctl queue delete ID) and send smaller ones, or raise the limit again if it was lowered by mistake.',
        command: `mailctl queue delete ${over[0]!.id}`,
      });
    },
  },
  {
    id: 'queue.size-failures',
    symptom: 'wont-send',
    areas: ['queue'],
    network: false,
    run({ db, clock }, report) {
      const rows = db.prepare(`SELECT id, status, last_error AS error FROM outbound_queue WHERE status IN ('failed', 'abandoned', 'deferred') AND updated_at >= ? AND last_error IS NOT NULL ORDER BY id`)
        .all(since(clock.now(), lookBackDays)) as Array<{ id: number; status: string; error: string }>;
      const sized = rows.filter((r) => sizeError.test(r.error));
      const sender = rows.filter((r) => !sizeError.test(r.error) && senderError.test(r.error));
      if (sized.length > 0) {
        report.finding({
          check: this.id, symptom: this.symptom, severity: 'error',
          title: `${sized.length} message(s) in the last ${lookBackDays} days were refused as too large by the server`,
          seen: sized.slice(0, 3).map((r) => `#${r.id} (${r.status}): ${r.error.slice(0, 120)}`).join('; '),
          cause: 'The whole message (body and attachments, base64-encoded) is over the server\'s size limit, even when it is within max_body_size and max_attachment_size.',
          fix: 'Lower max_attachment_size below the server\'s limit (about 3/4 of it, for base64) so such mail is refused before it is queued, and resend smaller.',
          command: 'mailctl config set max_attachment_size 10MB',
        });
      }
      if (sender.length > 0) {
        report.finding({
          check: this.id, symptom: this.symptom, severity: 'error',
          title: `${sender.length} message(s) in the last ${lookBackDays} days were refused because of their from-address`,
          seen: sender.slice(0, 3).map((r) => `#${r.id} (${r.status}): ${r.error.slice(0, 120)}`).join('; '),
          cause: 'The server does not let this login send as that from-address (or does not know the sender domain).',
          fix: 'Use the login mailbox as the from-address, or grant it "Send As" at the provider.',
          command: 'mailctl configure server --from ADDRESS',
        });
      }
      if (sized.length === 0 && sender.length === 0) report.passed({ check: this.id, symptom: this.symptom, summary: `no message refused for its size or sender in the last ${lookBackDays} days` });
    },
  },
  {
    id: 'outbound.server-size',
    symptom: 'wont-send',
    areas: ['outbound'],
    network: true,
    run({ serverMaxSize, globals }, report) {
      if (serverMaxSize === undefined) return; // the login check did not get that far: it reports why
      if (serverMaxSize === 0) {
        report.passed({ check: this.id, symptom: this.symptom, summary: 'the server advertises no SIZE limit' });
        return;
      }
      // What our limits let through, as it goes on the wire: attachments grow by 4/3 in base64.
      const largest = globals.max_body_size + Math.ceil(globals.max_attachment_size * 4 / 3);
      if (largest <= serverMaxSize) {
        report.passed({ check: this.id, symptom: this.symptom, summary: `the size limits fit the server's SIZE ${approxSize(serverMaxSize)}` });
        return;
      }
      const fitting = formatSize(Math.max(0, Math.floor((serverMaxSize - globals.max_body_size) * 3 / 4 / 1024)) * 1024);
      report.finding({
        check: this.id, symptom: this.symptom, severity: 'warning',
        title: `The server accepts at most ${approxSize(serverMaxSize)}, less than the size limits allow`,
        seen: `max_body_size ${formatSize(globals.max_body_size)} + max_attachment_size ${formatSize(globals.max_attachment_size)} (base64: about ${approxSize(largest)} on the wire) > SIZE ${approxSize(serverMaxSize)}`,
        cause: 'A message within both limits can still be refused by the server (the source guide: the overall size must also fit the server\'s limit).',
        fix: `Lower max_attachment_size to what fits: ${fitting} (the body limit plus base64 attachments then stay under the server's SIZE).`,
        command: `mailctl config set max_attachment_size ${fitting}`,
      });
    },
  },
];
