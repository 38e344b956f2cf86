import { UsageError } from '../errors.js';
import { isAutomaticRule } from './automatic-messages.js';

/** The longest rule id: it travels in every reference, so in the X-Mailctl-Ref header and the Message-ID. */
export const maxRuleIdLength = 64;

const ruleIdPattern = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;

/**
 * Checks a rule id where it enters (`send --rule`): at most 64 letters, digits and `. _ : / -`,
 * and not one of mailctl's own (`inbound-reject`). Throws a UsageError (E_RULE_ID) saying which.
 * A longer id made header lines longer than RFC 5322's 998 characters.
 */
export function checkRuleId(id: string): void {
  if (id.length > maxRuleIdLength || !ruleIdPattern.test(id)) {
    const shown = id.length > 40 ? `${id.slice(0, 40)}… (${id.length} characters)` : id;
    throw new UsageError('E_RULE_ID', `"${shown.replace(/[^\x20-\x7e]/g, '?')}" is not a valid rule id: use at most ${maxRuleIdLength} letters, digits, ".", "_", ":", "/" or "-", starting with a letter or digit.`, {
      fix: 'A rule id names the rule or workflow, e.g. renewal-reminder; it travels in every reference.',
    });
  }
  if (isAutomaticRule(id)) {
    throw new UsageError('E_RULE_ID', `"${id}" is mailctl's own rule id for its automatic notices; choose another.`, {
      fix: 'Mail with this rule id carries Auto-Submitted and is never answered: a rule\'s mail must not look like a notice.',
    });
  }
}
