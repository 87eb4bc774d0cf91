/**
 * The rules of the ReadStore port that every adapter applies the same way: which fields may be
 * indexed, the page size, that queries use indexed fields only, and that a cursor belongs to
 * the order it was made for.
 */
import { NotIndexedError, ValidationError } from '../errors.js';
import { decodeCursor, type CursorPosition, type SortDirection } from './cursor.js';
import type { FindQuery, IndexSpec } from './read-store.js';

/** Declared fields of a collection, and whether each is unique. */
export type IndexMap = ReadonlyMap<string, boolean>;

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 1000;

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Checks the declared fields and folds them into what is already declared. */
export function mergeIndexes(current: IndexMap, added: readonly IndexSpec[]): Map<string, boolean> {
  const merged = new Map(current);
  for (const index of added) {
    if (typeof index.field !== 'string' || !FIELD_NAME.test(index.field) || index.field === 'id') {
      throw new ValidationError(
        `Invalid index field ${JSON.stringify(index.field)}: use a top-level identifier other than id`,
        { field: index.field },
      );
    }
    // Indexes are only ever added: dropping one under a running query path would turn its
    // queries into NotIndexedErrors. A new projection version gets a new collection instead.
    merged.set(index.field, (merged.get(index.field) ?? false) || index.unique === true);
  }
  return merged;
}

export function checkLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new ValidationError(`limit must be an integer from 1 to ${MAX_LIMIT}`, { limit });
  }
  return limit;
}

export function assertIndexed(collection: string, indexes: IndexMap, field: string): void {
  if (field !== 'id' && !indexes.has(field)) throw new NotIndexedError(collection, field);
}

/** A query's page size and sort, checked: the sort field must be indexed (or `id`). */
export function pageAndOrder(
  collection: string,
  indexes: IndexMap,
  query: FindQuery,
): Readonly<{ limit: number; field: string; direction: SortDirection }> {
  const limit = checkLimit(query.limit);
  const field = query.orderBy?.field ?? 'id';
  const direction = query.orderBy?.direction ?? 'asc';
  if (direction !== 'asc' && direction !== 'desc') {
    throw new ValidationError(`orderBy.direction must be "asc" or "desc"`, { direction });
  }
  assertIndexed(collection, indexes, field);
  return { limit, field, direction };
}

/** Decodes a cursor and refuses one made for another order (it would skip or repeat items). */
export function cursorFor(cursor: string, field: string, direction: SortDirection): CursorPosition {
  const after = decodeCursor(cursor);
  if (after.field !== field || after.direction !== direction) {
    throw new ValidationError('The cursor belongs to a query with a different orderBy', {
      cursorOrderBy: { field: after.field, direction: after.direction },
    });
  }
  return after;
}
