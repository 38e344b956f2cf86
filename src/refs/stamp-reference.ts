import type { Reference } from './reference-codec.js';
import { sealReference, sealSubjectToken } from './reference-codec.js';

export const referenceHeader = 'X-Mailctl-Ref';

export interface Stamp {
  /** Value of the X-Mailctl-Ref header. */
  header: string;
  /** Message-ID without angle brackets: replies carry it back in In-Reply-To/References. */
  messageId: string;
  /** The subject with the short token appended. */
  subject: string;
}

/** The subject token as it appears in a subject line. */
export function subjectTag(token: string): string {
  return `[ref:${token}]`;
}

/**
 * Seals the reference three ways, because each can be lost on the way back: Exchange
 * strips custom headers on internal mail, some clients drop In-Reply-To, people edit
 * subjects. Any one of them is enough to find the record.
 */
export function stampReference(ref: Reference, subject: string, keyId: string, key: Buffer): Stamp {
  const header = sealReference(ref, keyId, key);
  const host = safeHost(ref.serverUrl);
  const token = sealSubjectToken(ref, keyId, key);
  const cleanSubject = subject.replace(/\s*\[ref:[A-Za-z0-9_-]*\]\s*$/, '');
  return { header, messageId: `mc.${header}@${host}`, subject: `${cleanSubject} ${subjectTag(token)}`.trim() };
}

function safeHost(url: string): string {
  try {
    const host = new URL(url).hostname;
    // A DNS name is at most 253 characters; a longer "host" would make the Message-ID unfoldably long.
    return host && host.length <= 253 ? host : 'mailctl.invalid';
  } catch {
    return 'mailctl.invalid';
  }
}
