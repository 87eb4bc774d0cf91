/**
 * The stand-in's data: databases of collections of BSON documents kept in memory, with the
 * `_id` index and any declared indexes. Only unique indexes do work here (they are enforced,
 * partial filters included); the others are recorded so `listIndexes` and the planner check
 * can see them. Matching, sorting and update operators are mingo's.
 */
import { EJSON, type Document } from 'bson';
import { Query } from 'mingo';

/** A server error as MongoDB reports it: numeric code, code name, message. */
export class CommandError extends Error {
  constructor(
    readonly code: number,
    readonly codeName: string,
    message: string,
    readonly extra: Document = {},
  ) {
    super(message);
  }
}

export type IndexDef = Readonly<{
  name: string;
  key: Readonly<Record<string, number>>;
  unique: boolean;
  partialFilterExpression?: Document;
}>;

type UniqueIndex = { def: IndexDef; partial: Query | undefined; entries: Map<string, string> };

const ID_INDEX: IndexDef = { name: '_id_', key: { _id: 1 }, unique: true };

/** A canonical text for a BSON value: equal values (1 and 1.0 included) give equal texts. */
export function canonical(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'number') return `n:${value}`;
  if (typeof value === 'string') return `s:${JSON.stringify(value)}`;
  if (typeof value === 'boolean') return `b:${String(value)}`;
  if (value instanceof Date) return `d:${value.getTime()}`;
  if (Array.isArray(value)) return `a:[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && '_bsontype' in value) {
    return `x:${EJSON.stringify(value)}`;
  }
  const entries = Object.entries(value as Document).map(
    ([key, item]) => `${JSON.stringify(key)}:${canonical(item)}`,
  );
  return `o:{${entries.join(',')}}`;
}

/** The value at a dotted path; arrays along the way are not traversed (no multikey indexes). */
export function valueAt(doc: Document, path: string): unknown {
  let current: unknown = doc;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    current = (current as Document)[part];
  }
  return current;
}

export class Collection {
  /** Documents by canonical `_id`, in insertion (natural) order. */
  readonly docs = new Map<string, Document>();
  readonly #unique: UniqueIndex[] = [];
  readonly #indexes: IndexDef[] = [ID_INDEX];

  constructor(
    public db: string,
    public name: string,
  ) {}

  get ns(): string {
    return `${this.db}.${this.name}`;
  }

  get indexes(): readonly IndexDef[] {
    return this.#indexes;
  }

  all(): Document[] {
    return [...this.docs.values()];
  }

  getById(id: unknown): Document | undefined {
    return this.docs.get(canonical(id));
  }

  /**
   * The documents a filter can match, in natural order: looked up by `_id` when the filter
   * pins it (an equality or `$in`), else all of them. Matching itself is left to mingo.
   */
  candidates(filter: Document): Document[] {
    const id: unknown = filter._id;
    const pinned = pinnedIds(id);
    if (pinned === undefined) return this.all();
    if (pinned.length === 1) {
      const doc = this.getById(pinned[0]);
      return doc === undefined ? [] : [doc];
    }
    const found = new Map<string, Document>();
    for (const value of pinned) {
      const doc = this.getById(value);
      if (doc !== undefined) found.set(canonical(value), doc);
    }
    return [...this.docs].filter(([key]) => found.has(key)).map(([, doc]) => doc);
  }

  insert(doc: Document): void {
    const id = canonical(doc._id);
    if (this.docs.has(id)) throw this.#duplicate(ID_INDEX, doc);
    this.#checkUnique(doc, id);
    this.docs.set(id, doc);
    this.#indexUnique(doc, id);
  }

  /** Replaces a stored document by one with the same `_id`, enforcing unique indexes. */
  replace(before: Document, after: Document): void {
    const id = canonical(before._id);
    if (canonical(after._id) !== id) {
      throw new CommandError(
        66,
        'ImmutableField',
        "Performing an update on the path '_id' would modify the immutable field '_id'",
      );
    }
    this.#checkUnique(after, id);
    this.#unindexUnique(before);
    this.docs.set(id, after);
    this.#indexUnique(after, id);
  }

  remove(doc: Document): void {
    this.#unindexUnique(doc);
    this.docs.delete(canonical(doc._id));
  }

  /** Adds an index; an identical one is a no-op, a conflicting one an error as in MongoDB. */
  addIndex(def: IndexDef): boolean {
    const sameName = this.#indexes.find((index) => index.name === def.name);
    const sameKey = this.#indexes.find((index) => canonical(index.key) === canonical(def.key));
    if (sameName !== undefined && canonical(sameName) === canonical(def)) return false;
    if (sameName !== undefined) {
      throw new CommandError(
        86,
        'IndexKeySpecsConflict',
        `An existing index has the same name as the requested index but different options: ${def.name}`,
      );
    }
    if (
      sameKey !== undefined &&
      canonical(sameKey.partialFilterExpression) === canonical(def.partialFilterExpression)
    ) {
      throw new CommandError(
        85,
        'IndexOptionsConflict',
        `An equivalent index already exists with a different name or options: ${sameKey.name}`,
      );
    }
    if (def.unique) {
      const unique: UniqueIndex = { def, partial: partialOf(def), entries: new Map() };
      for (const [id, doc] of this.docs) {
        const key = uniqueKey(unique, doc);
        if (key === undefined) continue;
        if (unique.entries.has(key)) throw this.#duplicate(def, doc);
        unique.entries.set(key, id);
      }
      this.#unique.push(unique);
    }
    this.#indexes.push(def);
    return true;
  }

  #checkUnique(doc: Document, id: string): void {
    for (const unique of this.#unique) {
      const key = uniqueKey(unique, doc);
      if (key === undefined) continue;
      const owner = unique.entries.get(key);
      if (owner !== undefined && owner !== id) throw this.#duplicate(unique.def, doc);
    }
  }

  #indexUnique(doc: Document, id: string): void {
    for (const unique of this.#unique) {
      const key = uniqueKey(unique, doc);
      if (key !== undefined) unique.entries.set(key, id);
    }
  }

  #unindexUnique(doc: Document): void {
    for (const unique of this.#unique) {
      const key = uniqueKey(unique, doc);
      if (key !== undefined) unique.entries.delete(key);
    }
  }

  /** E11000, with `keyPattern` and `keyValue` as mongod (4.4+) reports them. */
  #duplicate(index: IndexDef, doc: Document): CommandError {
    const keyValue = Object.fromEntries(
      Object.keys(index.key).map((f) => [f, valueAt(doc, f) ?? null]),
    );
    const shown = Object.entries(keyValue)
      .map(([field, value]) => `${field}: ${EJSON.stringify(value as Document, { relaxed: true })}`)
      .join(', ');
    return new CommandError(
      11000,
      'DuplicateKey',
      `E11000 duplicate key error collection: ${this.ns} index: ${index.name} dup key: { ${shown} }`,
      { keyPattern: index.key, keyValue },
    );
  }
}

function pinnedIds(id: unknown): readonly unknown[] | undefined {
  if (typeof id === 'string' || typeof id === 'number') return [id];
  if (id === null || typeof id !== 'object' || Array.isArray(id) || '_bsontype' in id) {
    return undefined;
  }
  const operators = id as Document;
  const keys = Object.keys(operators);
  if (keys.length !== 1) return undefined;
  if (keys[0] === '$eq') return pinnedIds(operators.$eq);
  if (keys[0] === '$in' && Array.isArray(operators.$in)) {
    const values = operators.$in as unknown[];
    return values.every((v) => typeof v === 'string' || typeof v === 'number') ? values : undefined;
  }
  return undefined;
}

function partialOf(def: IndexDef): Query | undefined {
  return def.partialFilterExpression === undefined
    ? undefined
    : new Query(def.partialFilterExpression, {});
}

/** The index key of a document, or undefined when a partial index leaves the document out. */
function uniqueKey(unique: UniqueIndex, doc: Document): string | undefined {
  if (unique.partial !== undefined && !unique.partial.test(doc)) return undefined;
  return Object.keys(unique.def.key)
    .map((field) => canonical(valueAt(doc, field)))
    .join('|');
}

/** All databases of one stand-in server. */
export class Storage {
  readonly #collections = new Map<string, Collection>();

  get(db: string, name: string): Collection | undefined {
    return this.#collections.get(`${db}.${name}`);
  }

  getOrCreate(db: string, name: string): { collection: Collection; created: boolean } {
    const existing = this.get(db, name);
    if (existing !== undefined) return { collection: existing, created: false };
    if (!/^[^$\0]+$/.test(name) || name.length > 255) {
      throw new CommandError(73, 'InvalidNamespace', `Invalid collection name: ${name}`);
    }
    const collection = new Collection(db, name);
    this.#collections.set(collection.ns, collection);
    return { collection, created: true };
  }

  list(db: string): Collection[] {
    return [...this.#collections.values()].filter((collection) => collection.db === db);
  }

  drop(db: string, name: string): boolean {
    return this.#collections.delete(`${db}.${name}`);
  }

  rename(from: Collection, toDb: string, toName: string, dropTarget: boolean): void {
    if (this.get(toDb, toName) !== undefined) {
      if (!dropTarget) throw new CommandError(48, 'NamespaceExists', `Target namespace exists`);
      this.drop(toDb, toName);
    }
    this.#collections.delete(from.ns);
    from.db = toDb;
    from.name = toName;
    this.#collections.set(from.ns, from);
  }
}
