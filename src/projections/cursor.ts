/**
 * Keyset cursors for `find`, shared by every read-store adapter: where the previous page ended, as base64url JSON
 * `[version, sortField, direction, sortValue, id]`. The sort field and direction travel with
 * the cursor so that a cursor replayed against a different sort is refused instead of
 * silently skipping or repeating documents.
 */
import { ValidationError } from '../errors.js';

export type SortDirection = 'asc' | 'desc';

/** A scalar sort value; a missing field is null (SQLite hands booleans back as 1/0). */
export type SortValue = string | number | boolean | null;

export type CursorPosition = Readonly<{
  /** `id` when the page is ordered by id alone. */
  field: string;
  direction: SortDirection;
  /** The last item's sort value; unused (null) when ordered by id. */
  value: SortValue;
  id: string;
}>;

const FORMAT_VERSION = 1;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export function encodeCursor(position: CursorPosition): string {
  const { field, direction, value, id } = position;
  const json = JSON.stringify([FORMAT_VERSION, field, direction, value, id]);
  return Buffer.from(json, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): CursorPosition {
  // Buffer.from skips characters outside the alphabet, so check the alphabet first.
  if (!BASE64URL.test(cursor)) throw malformed();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw malformed();
  }
  if (!Array.isArray(parsed) || parsed.length !== 5) throw malformed();
  const [version, field, direction, value, id] = parsed as unknown[];
  if (
    version !== FORMAT_VERSION ||
    typeof field !== 'string' ||
    (direction !== 'asc' && direction !== 'desc') ||
    !isSortValue(value) ||
    typeof id !== 'string'
  ) {
    throw malformed();
  }
  return { field, direction, value, id };
}

function isSortValue(value: unknown): value is SortValue {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

function malformed(): ValidationError {
  return new ValidationError('Malformed cursor; pass a nextCursor returned by find unchanged');
}
