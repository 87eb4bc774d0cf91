/**
 * The SQLite read store's tables: one per collection, with an expression index per declared
 * field, and two housekeeping tables whose names cannot collide with a collection's (those
 * are prefixed `col_`, and collection names start with a letter).
 */
import BetterSqlite3 from 'better-sqlite3';
import type { Database } from 'better-sqlite3';
import { ValidationError } from '../../errors.js';
import type { CollectionSpec } from '../read-store.js';

/** field → unique */
import type { IndexMap } from '../find-rules.js';
export type { IndexMap } from '../find-rules.js';
export { mergeIndexes } from '../find-rules.js';

const COLLECTION_NAME = /^[a-z][a-z0-9_]*$/;
/** Field names are spliced into JSON paths and SQL text, so they are kept to identifiers. */

export const META_DDL = `
  CREATE TABLE IF NOT EXISTS _sf_collections (name TEXT PRIMARY KEY, spec TEXT NOT NULL) STRICT;
  CREATE TABLE IF NOT EXISTS _sf_checkpoints (id TEXT PRIMARY KEY, position TEXT NOT NULL) STRICT;
`;

/** Stores a checkpoint; shared by the store's connection and its bulk writer thread. */
export const PUT_CHECKPOINT_SQL =
  'INSERT INTO _sf_checkpoints (id, position) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET position = excluded.position';

/**
 * The position-guarded write of one document (`doc` null: a tombstone). The guard lives in the
 * upsert's WHERE, so a skipped op costs one index probe and `changes` says whether it applied.
 * Positions are fixed-width strings, so SQLite's text order is log order.
 */
export function guardedWriteSql(collection: string): string {
  const table = `"${tableName(collection)}"`;
  return (
    `INSERT INTO ${table} (id, position, doc) VALUES (?, ?, ?)` +
    ` ON CONFLICT (id) DO UPDATE SET position = excluded.position, doc = excluded.doc` +
    ` WHERE excluded.position > ${table}.position`
  );
}

export function assertCollectionName(name: string): void {
  if (typeof name !== 'string' || !COLLECTION_NAME.test(name)) {
    throw new ValidationError(
      `Invalid collection name ${JSON.stringify(name)}: use lowercase letters, digits and _, starting with a letter`,
      { collection: name },
    );
  }
}

/** The `col_` prefix keeps names like `sqlite_x` (reserved by SQLite) usable as collections. */
export function tableName(collection: string): string {
  return `col_${collection}`;
}

/**
 * The one spelling of a field's expression: SQLite uses an expression index only when the
 * query spells the expression the same way, so DDL and queries both come through here.
 */
export function fieldExpr(field: string): string {
  return field === 'id' ? 'id' : `json_extract(doc, '$.${field}')`;
}

/**
 * SQLite folds identifier case, so `userId` and `userid` would share an index name; a hash of
 * the exact spelling keeps them apart while the name stays readable.
 */
export function indexName(collection: string, field: string, unique: boolean): string {
  return `${unique ? 'ux' : 'ix'}_${collection}__${field.toLowerCase()}_${fnv1a(field)}`;
}

export function readIndexes(db: Database, collection: string): IndexMap | undefined {
  const row = db.prepare('SELECT spec FROM _sf_collections WHERE name = ?').get(collection) as
    { spec: string } | undefined;
  if (row === undefined) return undefined;
  const spec = JSON.parse(row.spec) as Pick<CollectionSpec, 'indexes'>;
  return new Map(spec.indexes.map((index) => [index.field, index.unique === true]));
}

/** Creates what is missing; run inside a transaction together with `writeIndexes`. */
export function createCollectionObjects(db: Database, collection: string, indexes: IndexMap): void {
  const table = tableName(collection);
  db.exec(
    `CREATE TABLE IF NOT EXISTS "${table}" (id TEXT PRIMARY KEY, position TEXT NOT NULL, doc TEXT) STRICT`,
  );
  for (const [field, unique] of indexes) {
    // (field, id) serves equality, ranges and keyset pages ordered by field then id.
    db.exec(
      `CREATE INDEX IF NOT EXISTS "${indexName(collection, field, false)}" ON "${table}" (${fieldExpr(field)}, id)`,
    );
    if (unique) {
      // Tombstones and documents without the field extract to NULL, which never collides.
      db.exec(
        `CREATE UNIQUE INDEX IF NOT EXISTS "${indexName(collection, field, true)}" ON "${table}" (${fieldExpr(field)})`,
      );
    }
  }
}

export function writeIndexes(db: Database, collection: string, indexes: IndexMap): void {
  const spec = { indexes: [...indexes].map(([field, unique]) => ({ field, unique })) };
  db.prepare(
    'INSERT INTO _sf_collections (name, spec) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET spec = excluded.spec',
  ).run(collection, JSON.stringify(spec));
}

export function dropCollectionObjects(db: Database, collection: string): void {
  db.exec(`DROP TABLE IF EXISTS "${tableName(collection)}"`);
  db.prepare('DELETE FROM _sf_collections WHERE name = ?').run(collection);
}

/**
 * A unique index refusing a value becomes a ValidationError naming the field: it is a
 * property of the data, and the batch (or the index creation) changed nothing.
 */
export function translateUniqueError(
  error: unknown,
  collection: string,
  indexes: IndexMap,
  id?: string,
): ValidationError | undefined {
  if (!(error instanceof BetterSqlite3.SqliteError) || error.code !== 'SQLITE_CONSTRAINT_UNIQUE') {
    return undefined;
  }
  let field: string | undefined;
  for (const [name, unique] of indexes) {
    if (unique && error.message.includes(`'${indexName(collection, name, true)}'`)) field = name;
  }
  const subject = id === undefined ? 'Existing documents' : `Document ${JSON.stringify(id)}`;
  const what = field === undefined ? 'a unique index' : `unique field "${field}"`;
  const translated = new ValidationError(
    `${subject} in ${collection} would duplicate a value of ${what}`,
    { collection, ...(field === undefined ? {} : { field }), ...(id === undefined ? {} : { id }) },
  );
  // ValidationError takes no cause yet; keep SQLite's error for logs all the same.
  translated.cause = error;
  return translated;
}

function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(36);
}
