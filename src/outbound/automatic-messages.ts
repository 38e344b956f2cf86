/**
 * Mail that mailctl sends on its own, which no person asked for: today the notice to a
 * rejected sender. Each kind is a queue entry with a reserved rule id; `send --rule` refuses
 * these ids, so a rule's mail is never taken for a notice (or a notice for a rule's mail).
 */
export const rejectNoticeRule = 'inbound-reject';

const automaticRules: ReadonlySet<string> = new Set([rejectNoticeRule]);

/** True for a queue entry's rule id that marks an automatic message. */
export function isAutomaticRule(ruleId: string | null): boolean {
  return ruleId !== null && automaticRules.has(ruleId);
}

/** True for a reference's origin ("rule:inbound-reject") that names an automatic message. */
export function isAutomaticOrigin(origin: string | null): boolean {
  return origin !== null && origin.startsWith('rule:') && automaticRules.has(origin.slice('rule:'.length));
}

/**
 * The header fields every automatic message carries. `Auto-Submitted: auto-replied` (RFC 3834
 * §5.2) tells other responders, and our own inbound rules, not to answer it; `X-Loop` names the
 * KB's sending address (the convention of list managers and ticket systems, which many filters
 * honour where Auto-Submitted is unknown); `X-Auto-Response-Suppress: All` asks Exchange not to
 * answer it with an out-of-office or a read receipt ([MS-OXCMAIL] 2.1.3.2.20 "Auto Response Suppress").
 */
export function automaticHeaders(from: string): Record<string, string> {
  return { 'Auto-Submitted': 'auto-replied', 'X-Loop': from, 'X-Auto-Response-Suppress': 'All' };
}
