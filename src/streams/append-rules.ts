/**
 * Argument rules of the EventStore port that every adapter applies the same way.
 */
import { ValidationError } from '../errors.js';
import type { ExpectedRevision } from './event-store.js';

export function validateExpectedRevision(expected: ExpectedRevision): ExpectedRevision {
  if (expected === 'any' || expected === 'no-stream' || expected === 'stream-exists') {
    return expected;
  }
  if (Number.isSafeInteger(expected) && expected >= 0) return expected;
  throw new ValidationError(
    'expectedRevision must be a revision (an integer from 0), "any", "no-stream" or "stream-exists"',
    { expectedRevision: expected },
  );
}
