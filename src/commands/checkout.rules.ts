/**
 * Input checks shared by the checkout deciders. The HTTP layer validates commands against a
 * JSON schema first; these checks keep the deciders correct when they are driven by anything
 * else (workflows, scripts, tests), so a bad number can never reach the log.
 */
import { RuleViolation } from '../errors.js';

/** Safe integers only: beyond 2^53 arithmetic on stock and money silently loses precision. */
export function assertPositiveInteger(value: number, rule: string, field: string): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RuleViolation(rule, `${field} must be a positive integer`, { field, value });
  }
}

export function assertNonNegativeInteger(value: number, rule: string, field: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RuleViolation(rule, `${field} must be a non-negative integer`, { field, value });
  }
}
