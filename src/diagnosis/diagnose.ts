import type { CatalogEntry, Diagnosis, FailureFacts } from './diagnosis.js';
import { inboundEntries } from './inbound-entries.js';
import { mailboxRefusedToken, oauthEntries } from './oauth-entries.js';
import { presendEntries } from './presend-entries.js';
import { connectionEntries, smtpEntries } from './smtp-entries.js';

/** Every entry, most specific first: the first that matches wins. */
export const catalog: readonly CatalogEntry[] = [...presendEntries, ...oauthEntries, ...smtpEntries.filter((e) => e.id.startsWith('smtp-535') || e.id.startsWith('gmail')), mailboxRefusedToken, ...inboundEntries, ...smtpEntries.filter((e) => e.id !== 'smtp-temporary' && !e.id.startsWith('smtp-535') && !e.id.startsWith('gmail')), ...connectionEntries, ...smtpEntries.filter((e) => e.id === 'smtp-temporary')];

function matches(entry: CatalogEntry, facts: FailureFacts): boolean {
  if (!entry.areas.includes('any') && facts.area !== 'any' && !entry.areas.includes(facts.area)) return false;
  const byCode = entry.codes?.some((code) => code === facts.detailCode || code === facts.kind) ?? false;
  const byPattern = entry.pattern?.test(facts.text) ?? false;
  const byPredicate = entry.when?.(facts) ?? false;
  if (entry.when && entry.pattern) return byPredicate && byPattern; // both given: both must hold
  return byCode || byPattern || byPredicate;
}

/** The catalog's cause and fix for a failure, or an honest "not in the catalog". */
export function diagnose(facts: FailureFacts): Diagnosis {
  for (const entry of catalog) {
    if (matches(entry, facts)) return { id: entry.id, ...entry.diagnose(facts) };
  }
  return {
    id: 'unknown',
    cause: 'This error is not in mailctl\'s catalog yet; the server\'s exact words are above.',
    fix: 'Search the server\'s words in its documentation, or run mailctl doctor for a full check.',
    command: 'mailctl doctor',
  };
}
