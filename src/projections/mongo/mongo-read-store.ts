/**
 * The MongoDB ReadStore: one MongoDB collection per read-model collection, the declared
 * fields as real indexes, position-guarded bulk writes (`guarded-write.ts`) and keyset pages
 * (`query.ts`). Layout in `schema.ts`.
 *
 * MongoDB has no transaction spanning a batch here (they need a replica set and cost a round
 * trip each), so a batch's documents are written first and its checkpoint after: a crash in
 * between replays the batch, which the position guard turns into skips.
 */
import { MongoClient, MongoServerError, type Collection, type Db } from 'mongodb';
import {
  ClosedError,
  ConfigError,
  NotFoundError,
  NotIndexedError,
  StreamfoldError,
} from '../../errors.js';
import type { Position } from '../../streams/event-store.js';
import type {
  BulkWriteResult,
  Checkpoint,
  CollectionSpec,
  FindQuery,
  FindResult,
  ReadStore,
  StoredDocument,
  WriteOp,
} from '../read-store.js';
import { writeGuarded } from './guarded-write.js';
import { resolveOptions, type MongoReadStoreOptions } from './options.js';
import { encodeCursor, planFind, sortValueOf, type MongoFind } from './query.js';
import {
  CHECKPOINTS,
  COLLECTIONS,
  assertCollectionName,
  duplicateField,
  indexDescriptions,
  indexesFromMeta,
  mergeIndexes,
  uniqueViolation,
  type CheckpointDoc,
  type IndexMap,
  type MetaDoc,
  type StoredDoc,
} from './schema.js';

export type { MongoReadPreference, MongoReadStoreOptions, MongoWriteConcern } from './options.js';

type Handle = { readonly name: string; indexes: IndexMap; readonly docs: Collection<StoredDoc> };

/** Connects lazily: the first operation opens the connection pool. */
export function createMongoReadStore(options: MongoReadStoreOptions): ReadStore {
  const resolved = resolveOptions(options);
  let client: MongoClient;
  try {
    client = new MongoClient(resolved.url, resolved.client);
  } catch (error) {
    throw new ConfigError(`Invalid MongoDB connection string: ${describe(error)}`, {
      url: redact(resolved.url),
    });
  }
  return new MongoReadStore(client, client.db(resolved.database));
}

class MongoReadStore implements ReadStore {
  readonly #client: MongoClient;
  readonly #db: Db;
  readonly #meta: Collection<MetaDoc>;
  readonly #checkpoints: Collection<CheckpointDoc>;
  readonly #handles = new Map<string, Handle>();
  #closed = false;

  constructor(client: MongoClient, db: Db) {
    this.#client = client;
    this.#db = db;
    this.#meta = db.collection<MetaDoc>(COLLECTIONS);
    this.#checkpoints = db.collection<CheckpointDoc>(CHECKPOINTS);
  }

  /**
   * Indexes are built before the declaration is stored, so a process that sees a field
   * declared can rely on its index. `$max` merges declarations from concurrent callers
   * (false < true: a field once unique stays unique) without a read-modify-write race.
   */
  async ensureCollection(spec: CollectionSpec): Promise<void> {
    this.#assertOpen();
    assertCollectionName(spec.name);
    const declared = mergeIndexes(new Map(), spec.indexes);
    await this.#vendor('ensureCollection', async () => {
      const current = indexesFromMeta(await this.#meta.findOne({ _id: spec.name }));
      const merged = mergeIndexes(current ?? new Map(), spec.indexes);
      await this.#createIndexes(spec.name, merged, declared);
      const fields = Object.fromEntries(
        [...declared].map(([field, unique]) => [`fields.${field}`, unique]),
      );
      await this.#meta.updateOne(
        { _id: spec.name },
        declared.size > 0 ? { $max: fields } : { $setOnInsert: { fields: {} } },
        { upsert: true },
      );
      const handle = this.#handles.get(spec.name);
      if (handle !== undefined) handle.indexes = merged;
    });
  }

  async get(collection: string, id: string): Promise<StoredDocument | undefined> {
    const handle = await this.#handle(collection);
    const found = await this.#vendor('get', () =>
      handle.docs.findOne({ _id: id, doc: { $ne: null } }),
    );
    return found === null ? undefined : toStored(found);
  }

  async getMany(
    collection: string,
    ids: readonly string[],
  ): Promise<ReadonlyMap<string, StoredDocument>> {
    const handle = await this.#handle(collection);
    const found = new Map<string, StoredDocument>();
    if (ids.length === 0) return found;
    const unique = [...new Set(ids)];
    const docs = await this.#vendor('getMany', () =>
      handle.docs
        .find({ _id: { $in: unique }, doc: { $ne: null } }, { batchSize: unique.length })
        .toArray(),
    );
    for (const doc of docs) found.set(doc._id, toStored(doc));
    return found;
  }

  async find(collection: string, query?: FindQuery): Promise<FindResult> {
    const handle = await this.#handle(collection);
    const plan = await this.#plan(handle, query);
    // One document more than asked tells whether another page exists.
    const wanted = plan.limit + 1;
    const docs = await this.#vendor('find', () =>
      handle.docs
        .find(plan.filter, { sort: plan.sort, limit: wanted, batchSize: wanted })
        .toArray(),
    );
    const items = docs.slice(0, plan.limit).map(toStored);
    const last = docs[plan.limit - 1];
    if (docs.length <= plan.limit || last === undefined) return { items };
    const { field, direction } = plan;
    const value = sortValueOf(last, field);
    return { items, nextCursor: encodeCursor({ field, direction, value, id: last._id }) };
  }

  /**
   * The declaration is read again for every batch: a collection dropped by another process
   * must not be recreated here by an upsert, without its indexes.
   */
  async bulkWrite(
    collection: string,
    ops: readonly WriteOp[],
    checkpoint?: Checkpoint,
  ): Promise<BulkWriteResult> {
    const handle = await this.#handle(collection, { fresh: true });
    const result = await this.#vendor('bulkWrite', () =>
      writeGuarded(handle.docs, handle.name, ops),
    );
    if (checkpoint !== undefined) await this.putCheckpoint(checkpoint);
    return result;
  }

  async getCheckpoint(id: string): Promise<Position | undefined> {
    this.#assertOpen();
    const found = await this.#vendor('getCheckpoint', () => this.#checkpoints.findOne({ _id: id }));
    return found?.position;
  }

  async putCheckpoint(checkpoint: Checkpoint): Promise<void> {
    this.#assertOpen();
    const { id, position } = checkpoint;
    await this.#vendor('putCheckpoint', () =>
      this.#checkpoints.updateOne({ _id: id }, { $set: { position } }, { upsert: true }),
    );
  }

  async deleteCheckpoint(id: string): Promise<void> {
    this.#assertOpen();
    await this.#vendor('deleteCheckpoint', () => this.#checkpoints.deleteOne({ _id: id }));
  }

  async listCollections(): Promise<readonly string[]> {
    this.#assertOpen();
    const metas = await this.#vendor('listCollections', () =>
      this.#meta.find({}, { sort: { _id: 1 }, projection: { _id: 1 } }).toArray(),
    );
    return metas.map((meta) => meta._id);
  }

  /** The declaration goes first, so other processes stop using the collection before it goes. */
  async dropCollection(name: string): Promise<void> {
    this.#assertOpen();
    assertCollectionName(name);
    this.#handles.delete(name);
    await this.#vendor('dropCollection', async () => {
      await this.#meta.deleteOne({ _id: name });
      // The driver treats dropping a missing collection as success.
      await this.#db.collection(name).drop();
    });
  }

  /** Idempotent; every other method rejects with ClosedError afterwards. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#handles.clear();
    await this.#client.close();
  }

  async #createIndexes(name: string, all: IndexMap, declared: IndexMap): Promise<void> {
    const descriptions = indexDescriptions(all);
    if (descriptions.length === 0) {
      await this.#db.createCollection(name).catch((error: unknown) => {
        if (!(error instanceof MongoServerError && error.code === 48)) throw error;
      });
      return;
    }
    try {
      await this.#db.collection(name).createIndexes(descriptions);
    } catch (error) {
      // Only a newly declared unique index can fail, on values already duplicated.
      if (error instanceof MongoServerError && error.code === 11000) {
        const field = duplicateField(error.message);
        throw uniqueViolation(name, field ?? [...declared.keys()][0], error);
      }
      throw error;
    }
  }

  /**
   * Collections are known from the declarations, not only from this instance's calls, so
   * another process's collections work here too. A collection never ensured is a
   * NotFoundError rather than an empty result: it almost always means a misspelt name or a
   * projection that has not started, and an empty page would hide both.
   */
  async #handle(collection: string, options: { fresh?: boolean } = {}): Promise<Handle> {
    this.#assertOpen();
    const cached = this.#handles.get(collection);
    if (cached !== undefined && options.fresh !== true) return cached;
    assertCollectionName(collection);
    const meta = await this.#vendor('read collection', () =>
      this.#meta.findOne({ _id: collection }),
    );
    const indexes = indexesFromMeta(meta);
    if (indexes === undefined) {
      this.#handles.delete(collection);
      throw unknownCollection(collection);
    }
    const handle = cached ?? {
      name: collection,
      indexes,
      docs: this.#db.collection<StoredDoc>(collection),
    };
    handle.indexes = indexes;
    this.#handles.set(collection, handle);
    return handle;
  }

  /** Another process may have declared more fields since this one looked: look again once. */
  async #plan(handle: Handle, query: FindQuery | undefined): Promise<MongoFind> {
    try {
      return planFind(handle.name, handle.indexes, query);
    } catch (error) {
      if (!(error instanceof NotIndexedError)) throw error;
      const fresh = await this.#handle(handle.name, { fresh: true });
      return planFind(fresh.name, fresh.indexes, query);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError('MongoDB read store');
  }

  /**
   * Streamfold's own errors pass through; a driver or server error is wrapped so that no
   * driver type leaks past the adapter. A call racing `close()` is a ClosedError.
   */
  async #vendor<T>(operation: string, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      if (error instanceof StreamfoldError) throw error;
      if (this.#closed) throw new ClosedError('MongoDB read store');
      throw new Error(`MongoDB read store: ${operation} failed: ${describe(error)}`, {
        cause: error,
      });
    }
  }
}

function toStored(doc: StoredDoc): StoredDocument {
  return { id: doc._id, position: doc.position, value: doc.doc ?? {} };
}

function unknownCollection(collection: string): NotFoundError {
  return new NotFoundError(`Collection ${collection} does not exist; ensureCollection creates it`, {
    collection,
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Connection strings may carry credentials; error details must not. */
function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
