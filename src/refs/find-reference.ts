import { decodeHeaderValue, messageIdsIn, type HeaderBlock } from '../mime/header-block.js';
import { openReference, openSubjectToken, type RefKeys, type Reference, type SubjectReference } from './reference-codec.js';
import { referenceHeader } from './stamp-reference.js';

export type ReferenceSource = 'header' | 'message-id' | 'in-reply-to' | 'references' | 'subject';

export type FoundReference =
  | { kind: 'full'; source: ReferenceSource; keyId: string; reference: Reference }
  | { kind: 'subject'; source: 'subject'; keyId: string; reference: SubjectReference };

export interface ReferenceSearch {
  found: FoundReference | undefined;
  /** Every candidate that was seen and refused, with why: a forged or foreign token is logged, not used. */
  rejected: Array<{ source: ReferenceSource; reason: string }>;
}

const subjectPattern = /\[ref:\s*([A-Za-z0-9_\-\s]{20,80}?)\s*\]/g;

/**
 * Looks for our reference where replies carry it: our header, then the Message-ID (our
 * own message, e.g. in a bounce), In-Reply-To, References, and last the subject token.
 * The first candidate that authenticates wins.
 */
export function findReference(headers: HeaderBlock, keys: RefKeys): ReferenceSearch {
  const rejected: ReferenceSearch['rejected'] = [];
  const tryFull = (source: ReferenceSource, token: string): FoundReference | undefined => {
    const result = openReference(token, keys);
    if (result.ok) return { kind: 'full', source, keyId: result.keyId, reference: result.value };
    rejected.push({ source, reason: result.reason });
    return undefined;
  };
  const fromIds = (source: ReferenceSource, value: string | undefined) => {
    for (const id of messageIdsIn(value).reverse()) {
      const match = /^mc\.([A-Za-z0-9_-]+)@/.exec(id);
      const found = match ? tryFull(source, match[1]!) : undefined;
      if (found) return found;
    }
    return undefined;
  };

  for (const value of headers.getAll(referenceHeader)) {
    const found = tryFull('header', value.replace(/\s+/g, ''));
    if (found) return { found, rejected };
  }
  const byId = fromIds('message-id', headers.get('message-id')) ?? fromIds('in-reply-to', headers.get('in-reply-to')) ?? fromIds('references', headers.getAll('references').join(' '));
  if (byId) return { found: byId, rejected };

  const subject = decodeHeaderValue(headers.get('subject') ?? '');
  for (const match of subject.matchAll(subjectPattern)) {
    const token = match[1]!.replace(/\s+/g, '');
    const result = openSubjectToken(token, keys);
    if (result.ok) return { found: { kind: 'subject', source: 'subject', keyId: result.keyId, reference: result.value }, rejected };
    rejected.push({ source: 'subject', reason: result.reason });
  }
  return { found: undefined, rejected };
}
