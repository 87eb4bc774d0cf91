/**
 * Turns a `FindQuery` into a MongoDB filter, sort and limit that the `(doc.field, _id)`
 * indexes serve. MongoDB ranges are type-bracketed (`{ $gt: 5 }` never matches a string) and
 * a missing field sorts as null, first ascending and last descending: the port's semantics.
 * Pages are keyset pages: the cursor names the last item's (sort value, id), and the next page
 * is everything strictly after it in that order, so a deep page costs the same as the first.
 */
import type { Document, Filter, Sort } from 'mongodb';
import { ValidationError } from '../../errors.js';
import type { FieldCondition, FieldValue, FindQuery } from '../read-store.js';
import { assertIndexed, cursorFor, pageAndOrder } from '../find-rules.js';
import { type CursorPosition, type SortDirection, type SortValue } from '../cursor.js';
import { pathOf, type IndexMap, type StoredDoc } from './schema.js';

export { encodeCursor } from '../cursor.js';

export type MongoFind = Readonly<{
  filter: Filter<StoredDoc>;
  sort: Sort;
  limit: number;
  /** The sort field (`id` for the default order) and direction, for the next cursor. */
  field: string;
  direction: SortDirection;
}>;

const OPERATORS = { eq: '$eq', gt: '$gt', gte: '$gte', lt: '$lt', lte: '$lte' } as const;
/** BSON comparison order of the JSON types, after null (which `{ f: null }` covers). */
const TYPE_ORDER = ['number', 'string', 'object', 'array', 'bool'] as const;

export function planFind(collection: string, indexes: IndexMap, query: FindQuery = {}): MongoFind {
  const { limit, field, direction } = pageAndOrder(collection, indexes, query);
  // Tombstones (doc: null) are never found.
  const clauses: Document[] = [{ doc: { $ne: null } }];
  for (const [whereField, condition] of Object.entries(query.where ?? {})) {
    assertIndexed(collection, indexes, whereField);
    clauses.push({ [pathOf(whereField)]: conditionOf(condition) });
  }
  if (query.cursor !== undefined) {
    clauses.push(keysetAfter(cursorFor(query.cursor, field, direction)));
  }
  const order = direction === 'asc' ? 1 : -1;
  const sort: Sort = field === 'id' ? { _id: order } : { [pathOf(field)]: order, _id: order };
  const filter = (clauses.length === 1 ? clauses[0] : { $and: clauses }) as Filter<StoredDoc>;
  return { filter, sort, limit, field, direction };
}

function conditionOf(condition: FieldCondition): Document {
  if (typeof condition !== 'object' || condition === null) return { $eq: checkValue(condition) };
  const entries = Object.entries(condition).filter(([, value]) => value !== undefined);
  if (Array.isArray(condition) || entries.length === 0) {
    throw new ValidationError('A condition is a value or an object of eq, gt, gte, lt, lte', {
      condition,
    });
  }
  const result: Document = {};
  const kinds = new Set<string>();
  for (const [operator, value] of entries) {
    if (!Object.hasOwn(OPERATORS, operator)) {
      throw new ValidationError(`Unknown operator "${operator}"; use eq, gt, gte, lt or lte`);
    }
    result[OPERATORS[operator as keyof typeof OPERATORS]] = checkValue(value);
    kinds.add(typeof value);
  }
  if (kinds.size > 1) {
    throw new ValidationError('The bounds of one condition must all be of one type');
  }
  return result;
}

/** Values arrive from untyped callers too (HTTP query strings): only JSON scalars pass. */
function checkValue(value: FieldValue): FieldValue {
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw new ValidationError('A condition value must be a string, a finite number or a boolean', {
    value,
  });
}

/**
 * Everything strictly after (value, id) in the sort order: the same value with a later id,
 * a later value of the same type, or a value of a later type (range operators stay within
 * one type, so the later types are named). Descending, the missing values come last.
 */
function keysetAfter(after: CursorPosition): Document {
  const { field, direction, value, id } = after;
  const idOp = direction === 'asc' ? '$gt' : '$lt';
  if (field === 'id') return { _id: { [idOp]: id } };
  const path = pathOf(field);
  const sameValue = { [path]: value, _id: { [idOp]: id } };
  if (value === null) {
    return direction === 'asc'
      ? { $or: [sameValue, { [path]: { $type: [...TYPE_ORDER] } }] }
      : sameValue;
  }
  const rank = TYPE_ORDER.indexOf(typeName(value));
  const branches: Document[] = [sameValue, { [path]: { [idOp]: value } }];
  const later = direction === 'asc' ? TYPE_ORDER.slice(rank + 1) : TYPE_ORDER.slice(0, rank);
  if (later.length > 0) branches.push({ [path]: { $type: later } });
  if (direction === 'desc') branches.push({ [path]: null });
  return { $or: branches };
}

function typeName(value: string | number | boolean): (typeof TYPE_ORDER)[number] {
  if (typeof value === 'number') return 'number';
  return typeof value === 'string' ? 'string' : 'bool';
}

/** The sort value of a stored document, for the cursor of the page it ends. */
export function sortValueOf(doc: StoredDoc, field: string): SortValue {
  if (field === 'id') return null;
  const value: unknown = doc.doc?.[field];
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  // Objects and arrays compare field by field (or element-wise, multikey) in MongoDB; a
  // cursor cannot name such a position faithfully, so say so instead of skipping documents.
  throw new ValidationError(
    `Cannot page by "${field}": a document holds an object or array there; index scalar fields`,
    { field, id: doc._id },
  );
}
