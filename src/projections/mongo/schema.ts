/**
 * How the MongoDB read store lays out its data. A collection holds
 * `{ _id: id, position, doc }`, where `doc` is the projection's document and `null` marks a
 * tombstone: a deleted document keeps its position, so a redelivered older upsert cannot
 * bring it back. Keeping the document under `doc` means its fields can never clash with
 * `_id` or `position`. Two housekeeping collections sit beside the read models; their
 * leading underscore keeps them apart from collection names, which start with a letter.
 */
import type { Document, IndexDescription } from 'mongodb';
import { ValidationError } from '../../errors.js';

/** Declared indexes of every collection, so that every process knows what may be queried. */
export const COLLECTIONS = '_sf_collections';
export const CHECKPOINTS = '_sf_checkpoints';

/** field → unique */
import type { IndexMap } from '../find-rules.js';
export type { IndexMap } from '../find-rules.js';
export { mergeIndexes } from '../find-rules.js';

export type StoredDoc = { _id: string; position: string; doc: Document | null };
export type MetaDoc = { _id: string; fields?: Record<string, boolean> };
export type CheckpointDoc = { _id: string; position: string };

const COLLECTION_NAME = /^[a-z][a-z0-9_]*$/;
/** Field names become dotted paths and index names, so they are kept to identifiers. */
/** The BSON types a unique index covers: a missing field or an explicit null never collides. */
const UNIQUE_TYPES = ['number', 'string', 'bool', 'object', 'array'];

export function assertCollectionName(name: string): void {
  if (typeof name !== 'string' || !COLLECTION_NAME.test(name)) {
    throw new ValidationError(
      `Invalid collection name ${JSON.stringify(name)}: use lowercase letters, digits and _, starting with a letter`,
      { collection: name },
    );
  }
}

/** The stored path of a field: `id` is `_id`, every other field lives under `doc`. */
export function pathOf(field: string): string {
  return field === 'id' ? '_id' : `doc.${field}`;
}

/**
 * `(doc.field, _id)` serves equality, ranges and keyset pages sorted by the field with ties by
 * id, in both directions. A unique field gets a second, partial index so that documents
 * without the value (and tombstones) do not collide.
 */
export function indexDescriptions(indexes: IndexMap): IndexDescription[] {
  const descriptions: IndexDescription[] = [];
  for (const [field, unique] of indexes) {
    descriptions.push({ key: { [pathOf(field)]: 1, _id: 1 }, name: `ix_${field}` });
    if (unique) {
      descriptions.push({
        key: { [pathOf(field)]: 1 },
        name: `ux_${field}`,
        unique: true,
        partialFilterExpression: { [pathOf(field)]: { $type: UNIQUE_TYPES } },
      });
    }
  }
  return descriptions;
}

export function indexesFromMeta(meta: MetaDoc | null): IndexMap | undefined {
  if (meta === null) return undefined;
  return new Map(Object.entries(meta.fields ?? {}).map(([field, unique]) => [field, unique]));
}

/** The field of a unique index named in an E11000 message, or undefined for `_id`. */
export function duplicateField(message: string): string | undefined {
  return /index: ux_([A-Za-z0-9_]+) dup key/.exec(message)?.[1];
}

/** E11000 on `_id` from a guarded upsert: the document exists with a position at or after the op's. */
export function isIdDuplicate(code: unknown, message: string): boolean {
  return code === 11000 && /index: _id_ /.test(message);
}

/**
 * A unique index refusing a value is a ValidationError naming the field: a property of the
 * data, not of the store.
 */
export function uniqueViolation(
  collection: string,
  field: string | undefined,
  cause: unknown,
  id?: string,
): ValidationError {
  const subject = id === undefined ? 'Existing documents' : `Document ${JSON.stringify(id)}`;
  const what = field === undefined ? 'a unique index' : `unique field "${field}"`;
  const error = new ValidationError(
    `${subject} in ${collection} would duplicate a value of ${what}`,
    { collection, ...(field === undefined ? {} : { field }), ...(id === undefined ? {} : { id }) },
  );
  // ValidationError takes no cause yet; keep the server's error for logs all the same.
  error.cause = cause;
  return error;
}
