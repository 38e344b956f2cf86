import type { Deps } from '../../deps.js';
import { ExitCode, UsageError } from '../../errors.js';
import { diagnose } from '../../diagnosis/diagnose.js';
import type { FailureFacts } from '../../diagnosis/diagnosis.js';
import { readTextFile } from '../../ui/read-text-file.js';

const codePatterns: Array<[RegExp, string]> = [
  [/\bECONNREFUSED\b/, 'ECONNREFUSED'],
  [/\bENOTFOUND\b|getaddrinfo/, 'ENOTFOUND'],
  [/\bETIMEDOUT\b/, 'ETIMEDOUT'],
  [/DEPTH_ZERO_SELF_SIGNED_CERT|self[- ]signed certificate/i, 'DEPTH_ZERO_SELF_SIGNED_CERT'],
  [/CERT_HAS_EXPIRED|certificate has expired/i, 'CERT_HAS_EXPIRED'],
  [/ERR_TLS_CERT_ALTNAME_INVALID|does not match certificate/i, 'ERR_TLS_CERT_ALTNAME_INVALID'],
  [/UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify the first certificate/i, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
];

/** Guesses the facts a pasted error carries: the protocol, the phase, the reply code. */
export function factsFromText(text: string): FailureFacts {
  const reply = /(?:^|\s)([2-5]\d\d)[ -](\d\.\d{1,3}\.\d{1,3})?/m.exec(text);
  const responseCode = reply ? Number(reply[1]) : undefined;
  const area: FailureFacts['area'] = /AADSTS|invalid_grant|invalid_client|invalid_request|oauth/i.test(text)
    ? 'oauth'
    : /graph\.microsoft|ErrorAccessDenied|InvalidAuthenticationToken|ErrorItemNotFound/i.test(text)
      ? 'graph'
      : /^-ERR|POP3/m.test(text)
        ? 'pop3'
        : /AUTHENTICATIONFAILED|IMAP|\bNO \[|AUTHENTICATE failed|LOGIN failed/i.test(text)
          ? 'imap'
          : 'any';
  const phase = /\b(535|534)\b/.test(text) || /AUTHENTICATE|LOGIN failed|AUTHENTICATIONFAILED/i.test(text) ? 'auth'
    : /RCPT|Recipient/i.test(text) ? 'recipient'
      : /MAIL FROM|Sender address/i.test(text) ? 'sender'
        : /Greeting never received|no greeting/i.test(text) ? 'greeting'
          : /Connection timeout|connect ETIMEDOUT/i.test(text) ? 'connect'
            : undefined;
  const detailCode = codePatterns.find(([pattern]) => pattern.test(text))?.[1];
  return { area, text, ...(phase ? { phase } : {}), ...(responseCode ? { responseCode } : {}), ...(detailCode ? { detailCode, kind: detailCode } : {}) };
}

/** `mailctl explain [TEXT…] | --file F | -`: what an error means and what to do. */
export async function runExplain(deps: Deps, words: string[], options: { file?: string }): Promise<number> {
  const { out } = deps;
  const text = options.file ? readTextFile(options.file) : words.length === 1 && words[0] === '-' ? await deps.readStdin() : words.join(' ');
  if (!text.trim()) throw new UsageError('E_EXPLAIN_EMPTY', 'Give the error text: mailctl explain "535 5.7.139 Authentication unsuccessful…", --file F, or - to read standard input.');
  const facts = factsFromText(text);
  const diagnosis = diagnose(facts);
  if (diagnosis.id === 'unknown') {
    out.line('mailctl does not recognise this error: it is not in the catalog.');
    out.line('  Run mailctl doctor for a full check of the configuration, servers and tokens.');
    out.data({ ok: false, known: false, diagnosis });
    return ExitCode.failure;
  }
  out.line(`${out.color.bold('What happened:')} ${diagnosis.cause}`);
  out.line(`${out.color.bold('What to do:')}    ${diagnosis.fix}`);
  if (diagnosis.command) out.line(`${out.color.bold('Command:')}       ${diagnosis.command}`);
  out.data({ ok: true, known: true, diagnosis, facts: { area: facts.area, phase: facts.phase ?? null, responseCode: facts.responseCode ?? null } });
  return ExitCode.ok;
}
