/**
 * Turns a `FindQuery` into one SQL statement over a collection table. The SQL text depends
 * only on the query's shape (fields, operators, sort, cursor kind), never on its values, so
 * the store can cache one prepared statement per shape.
 */
import { ValidationError } from '../../errors.js';
import type { FieldCondition, FieldValue, FindQuery } from '../read-store.js';
import type { CursorPosition, SortDirection } from '../cursor.js';
import { assertIndexed, cursorFor, pageAndOrder } from '../find-rules.js';
import { fieldExpr, tableName, type IndexMap } from './schema.js';

export type SqlValue = string | number;

/** One SQL statement covering a stretch of the sort order. */
export type Segment = Readonly<{ sql: string; params: readonly SqlValue[] }>;

export type FindPlan = Readonly<{
  /** Run in order until `limit + 1` rows are in hand: together they are the requested order. */
  segments: readonly Segment[];
  limit: number;
  /** The sort field (`id` for the default order) and direction, for the next cursor. */
  field: string;
  direction: SortDirection;
}>;

const OPERATORS = { eq: '=', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;
type Operator = keyof typeof OPERATORS;

/** A stretch of the order before the filters are added: its keyset clause and ORDER BY. */
type Stretch = Readonly<{ clause?: string; params?: readonly SqlValue[]; orderBy: string }>;

export function planFind(collection: string, indexes: IndexMap, query: FindQuery = {}): FindPlan {
  const { limit, field, direction } = pageAndOrder(collection, indexes, query);

  const clauses = ['doc IS NOT NULL'];
  const params: SqlValue[] = [];
  for (const [whereField, condition] of Object.entries(query.where ?? {})) {
    assertIndexed(collection, indexes, whereField);
    addCondition(fieldExpr(whereField), condition, clauses, params);
  }
  const stretches =
    query.cursor === undefined
      ? [fullOrder(field, direction)]
      : keysetAfter(cursorFor(query.cursor, field, direction));

  const select =
    field === 'id' ? 'id, position, doc' : `id, position, doc, ${fieldExpr(field)} AS sort_value`;
  const segments = stretches.map((stretch) => {
    const where = stretch.clause === undefined ? clauses : [...clauses, stretch.clause];
    return {
      sql: `SELECT ${select} FROM "${tableName(collection)}" WHERE ${where.join(' AND ')} ORDER BY ${stretch.orderBy} LIMIT ?`,
      params: [...params, ...(stretch.params ?? [])],
    };
  });
  return { segments, limit, field, direction };
}

function addCondition(
  expr: string,
  condition: FieldCondition,
  clauses: string[],
  params: SqlValue[],
): void {
  if (typeof condition !== 'object' || condition === null) {
    clauses.push(`${expr} = ?`);
    params.push(sqlValue(condition));
    return;
  }
  const entries = Object.entries(condition).filter(([, value]) => value !== undefined);
  if (Array.isArray(condition) || entries.length === 0) {
    throw new ValidationError('A condition is a value or an object of eq, gt, gte, lt, lte', {
      condition,
    });
  }
  const kinds = new Set<string>();
  for (const [operator, value] of entries) {
    if (!(operator in OPERATORS)) {
      throw new ValidationError(`Unknown operator "${operator}"; use eq, gt, gte, lt or lte`);
    }
    clauses.push(`${expr} ${OPERATORS[operator as Operator]} ?`);
    params.push(sqlValue(value));
    kinds.add(typeof value === 'string' ? 'string' : 'number');
  }
  if (kinds.size > 1) {
    throw new ValidationError('The bounds of one condition must all be strings or all numbers');
  }
  addTypeBracket(expr, condition, kinds.has('string'), clauses);
}

/**
 * SQLite orders NULL < numbers < text and compares across types, so an open-ended range such
 * as `{ gt: 5 }` would also match every string. Closing the open end at the type boundary
 * (`''` is the smallest text) keeps ranges within one type, as MongoDB's do, and still lets
 * the index serve the range.
 */
function addTypeBracket(
  expr: string,
  condition: Exclude<FieldCondition, FieldValue>,
  isString: boolean,
  clauses: string[],
): void {
  if (condition.eq !== undefined) return;
  const hasLower = condition.gt !== undefined || condition.gte !== undefined;
  const hasUpper = condition.lt !== undefined || condition.lte !== undefined;
  if (isString && !hasLower) clauses.push(`${expr} >= ''`);
  if (!isString && !hasUpper) clauses.push(`${expr} < ''`);
}

/** JSON booleans extract as 1/0, so booleans are compared as such. */
function sqlValue(value: FieldValue): SqlValue {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw new ValidationError('A condition value must be a string, a finite number or a boolean', {
    value,
  });
}

function fullOrder(field: string, direction: SortDirection): Stretch {
  if (field === 'id') return { orderBy: `id ${direction}` };
  return { orderBy: `${fieldExpr(field)} ${direction}, id ${direction}` };
}

/**
 * What comes strictly after the cursor in (sort value, id) order. A missing field sorts as
 * NULL, first ascending and last descending (as in MongoDB). Each stretch is a single index
 * range, so a page costs a seek plus its own rows however deep it is; an OR across the NULL
 * boundary would make SQLite scan the index from the start instead.
 */
function keysetAfter(after: CursorPosition): Stretch[] {
  const { field, direction, id } = after;
  // SQLite stores JSON booleans as 1/0, so its cursors never carry a boolean; map one anyway.
  const value = typeof after.value === 'boolean' ? Number(after.value) : after.value;
  const op = direction === 'asc' ? '>' : '<';
  const byId = { orderBy: `id ${direction}` };
  if (field === 'id') return [{ ...byId, clause: `id ${op} ?`, params: [id] }];
  const expr = fieldExpr(field);
  const nulls = { ...byId, clause: `${expr} IS NULL AND id ${op} ?`, params: [id] };
  const values = fullOrder(field, direction);
  if (value === null) {
    // Means IS NOT NULL (every number and text is at least -Infinity), but SQLite can seek it.
    const notNull = { ...values, clause: `${expr} >= -9e999` };
    return direction === 'asc' ? [nulls, notNull] : [nulls];
  }
  // The bare bound gives SQLite a range to seek; the row value settles ties by id.
  const seek = {
    ...values,
    clause: `${expr} ${op}= ? AND (${expr}, id) ${op} (?, ?)`,
    params: [value, value, id],
  };
  return direction === 'asc' ? [seek] : [seek, { ...byId, clause: `${expr} IS NULL` }];
}
