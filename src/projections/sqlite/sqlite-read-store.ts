/**
 * The embedded ReadStore: one SQLite file, one table per collection, JSON documents with
 * expression indexes on the declared fields. See `schema.ts` for the tables and `query.ts`
 * for `find`.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { ClosedError, ConfigError, NotFoundError, NotIndexedError } from '../../errors.js';
import type { JsonObject, Position } from '../../streams/event-store.js';
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
import { encodeCursor, type SortValue } from '../cursor.js';
import { BulkWriteFailure, createBulkWriter, type BulkWriter } from './bulk-writer.js';
import { planFind, type FindPlan, type SqlValue } from './query.js';
import {
  META_DDL,
  PUT_CHECKPOINT_SQL,
  assertCollectionName,
  guardedWriteSql,
  createCollectionObjects,
  dropCollectionObjects,
  mergeIndexes,
  readIndexes,
  tableName,
  translateUniqueError,
  writeIndexes,
  type IndexMap,
} from './schema.js';

export type SqliteReadStoreOptions = Readonly<{
  /** Database file, or `':memory:'` for a private in-memory store. Missing parent directories are created. */
  path: string;
  /** How long a write waits for another process holding the file's write lock. @default 5_000 */
  busyTimeoutMs?: number;
  /**
   * Bulk writes of at least this many ops (a rebuild's batches) run on a writer thread with
   * its own connection, so that the caller's thread can go on reading and folding; smaller
   * ones (a live projector's) are written at once on this thread. A `':memory:'` store, which
   * no other connection can open, always writes here. @default 1000
   */
  threadedWriteMinOps?: number;
}>;

type Row = { id: string; position: string; doc: string; sort_value?: SortValue };

/** A collection's known indexes and its statements, prepared once and reused. */
type Handle = {
  readonly name: string;
  indexes: IndexMap;
  readonly get: Statement<[string], Row>;
  readonly getMany: Statement<[string], Row>;
  readonly write: Statement<[string, Position, string | null]>;
  /** Prepared `find` statements by SQL text; a query's shape, not its values, picks the SQL. */
  readonly finds: Map<string, Statement<SqlValue[], Row>>;
};

/** Bounds the per-collection cache of `find` shapes; real workloads use a handful. */
const MAX_FIND_SHAPES = 64;

export function createSqliteReadStore(options: SqliteReadStoreOptions): ReadStore {
  const { path, busyTimeoutMs = 5_000 } = options;
  if (typeof path !== 'string' || path === '') {
    throw new ConfigError('The SQLite read store needs a file path or ":memory:"', { path });
  }
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new ConfigError('busyTimeoutMs must be a non-negative integer', { busyTimeoutMs });
  }
  const { threadedWriteMinOps = DEFAULT_THREADED_WRITE_MIN_OPS } = options;
  if (!Number.isInteger(threadedWriteMinOps) || threadedWriteMinOps < 1) {
    throw new ConfigError('threadedWriteMinOps must be a positive integer', {
      threadedWriteMinOps,
    });
  }
  if (path === ':memory:') return new SqliteReadStore(new Database(path), undefined);
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { timeout: busyTimeoutMs });
  const threaded = {
    writer: createBulkWriter({ path, busyTimeoutMs }),
    minOps: threadedWriteMinOps,
  };
  return new SqliteReadStore(db, threaded);
}

const DEFAULT_THREADED_WRITE_MIN_OPS = 1000;

type Threaded = Readonly<{ writer: BulkWriter; minOps: number }>;

class SqliteReadStore implements ReadStore {
  readonly #db: Database.Database;
  readonly #handles = new Map<string, Handle>();
  readonly #getCheckpoint: Statement<[string], { position: string }>;
  readonly #putCheckpoint: Statement<[string, Position]>;
  readonly #deleteCheckpoint: Statement<[string]>;
  readonly #writeBatch: (handle: Handle, ops: readonly WriteOp[], cp?: Checkpoint) => number;
  readonly #threaded: Threaded | undefined;
  /**
   * Settles once the writes called so far have ended, while a threaded bulk write is among
   * them; undefined otherwise. Writes run in call order: a write called meanwhile waits its
   * turn here (on this connection it would only wait for the file's lock, blocking the event
   * loop). Reads do not wait: they see what is committed, as readers of a shared store do.
   */
  #tail: Promise<void> | undefined;
  #closed = false;

  constructor(db: Database.Database, threaded: Threaded | undefined) {
    this.#db = db;
    this.#threaded = threaded;
    db.pragma('journal_mode = WAL');
    // The read store is derived data: it can be rebuilt from the log, and documents commit in
    // one transaction with the checkpoint that covers them. NORMAL can lose the last
    // transactions on power loss but never corrupts the file or splits documents from their
    // checkpoint, so a crash only means replaying a few events, which the position guard
    // makes harmless. FULL would add an fsync to every projector batch for nothing.
    db.pragma('synchronous = NORMAL');
    db.exec(META_DDL);
    this.#getCheckpoint = db.prepare('SELECT position FROM _sf_checkpoints WHERE id = ?');
    this.#putCheckpoint = db.prepare(PUT_CHECKPOINT_SQL);
    this.#deleteCheckpoint = db.prepare('DELETE FROM _sf_checkpoints WHERE id = ?');
    // IMMEDIATE takes the write lock up front, so two processes sharing the file queue on
    // busy_timeout instead of failing to upgrade a read lock mid-batch.
    const batch = db.transaction(this.#applyBatch.bind(this));
    this.#writeBatch = (handle, ops, checkpoint) => batch.immediate(handle, ops, checkpoint);
  }

  ensureCollection(spec: CollectionSpec): Promise<void> {
    return this.#inTurn(() => {
      this.#assertOpen();
      assertCollectionName(spec.name);
      const declared = mergeIndexes(new Map(), spec.indexes);
      let merged: IndexMap;
      try {
        merged = this.#db
          .transaction(() => {
            const all = mergeIndexes(readIndexes(this.#db, spec.name) ?? new Map(), spec.indexes);
            createCollectionObjects(this.#db, spec.name, all);
            writeIndexes(this.#db, spec.name, all);
            return all;
          })
          .immediate();
      } catch (error) {
        // Only a newly declared unique index can fail, on values already duplicated.
        throw translateUniqueError(error, spec.name, declared) ?? error;
      }
      const handle = this.#handles.get(spec.name);
      if (handle !== undefined) handle.indexes = merged;
    });
  }

  get(collection: string, id: string): Promise<StoredDocument | undefined> {
    return settle(() => {
      const handle = this.#handle(collection);
      const row = this.#run(handle, () => handle.get.get(id));
      return row === undefined ? undefined : toStored(row);
    });
  }

  getMany(
    collection: string,
    ids: readonly string[],
  ): Promise<ReadonlyMap<string, StoredDocument>> {
    return settle(() => {
      const handle = this.#handle(collection);
      const found = new Map<string, StoredDocument>();
      if (ids.length === 0) return found;
      // One statement for any number of ids: the ids travel as a JSON array.
      const rows = this.#run(handle, () => handle.getMany.all(JSON.stringify([...new Set(ids)])));
      for (const row of rows) found.set(row.id, toStored(row));
      return found;
    });
  }

  find(collection: string, query?: FindQuery): Promise<FindResult> {
    return settle(() => {
      const handle = this.#handle(collection);
      const plan = this.#plan(handle, query);
      // One row more than asked tells whether another page exists.
      const wanted = plan.limit + 1;
      const rows: Row[] = [];
      for (const { sql, params } of plan.segments) {
        const statement = this.#findStatement(handle, sql);
        rows.push(...this.#run(handle, () => statement.all(...params, wanted - rows.length)));
        if (rows.length >= wanted) break;
      }
      const items = rows.slice(0, plan.limit).map(toStored);
      const last = rows[plan.limit - 1];
      if (rows.length <= plan.limit || last === undefined) return { items };
      const { field, direction } = plan;
      return {
        items,
        nextCursor: encodeCursor({ field, direction, value: last.sort_value ?? null, id: last.id }),
      };
    });
  }

  bulkWrite(
    collection: string,
    ops: readonly WriteOp[],
    checkpoint?: Checkpoint,
  ): Promise<BulkWriteResult> {
    return this.#inTurn(() => {
      const handle = this.#handle(collection);
      const skipped = (applied: number) => ({ applied, skipped: ops.length - applied });
      if (this.#threaded === undefined || ops.length < this.#threaded.minOps) {
        return skipped(this.#run(handle, () => this.#writeBatch(handle, ops, checkpoint)));
      }
      return this.#writeThreaded(this.#threaded.writer, handle, ops, checkpoint).then(skipped);
    });
  }

  getCheckpoint(id: string): Promise<Position | undefined> {
    return settle(() => {
      this.#assertOpen();
      return this.#getCheckpoint.get(id)?.position;
    });
  }

  putCheckpoint(checkpoint: Checkpoint): Promise<void> {
    return this.#inTurn(() => {
      this.#assertOpen();
      this.#putCheckpoint.run(checkpoint.id, checkpoint.position);
    });
  }

  deleteCheckpoint(id: string): Promise<void> {
    return this.#inTurn(() => {
      this.#assertOpen();
      this.#deleteCheckpoint.run(id);
    });
  }

  listCollections(): Promise<readonly string[]> {
    return settle(() => {
      this.#assertOpen();
      const rows = this.#db.prepare('SELECT name FROM _sf_collections ORDER BY name').all() as {
        name: string;
      }[];
      return rows.map((row) => row.name);
    });
  }

  dropCollection(name: string): Promise<void> {
    return this.#inTurn(() => {
      this.#assertOpen();
      assertCollectionName(name);
      this.#handles.delete(name);
      this.#db.transaction(() => dropCollectionObjects(this.#db, name)).immediate();
    });
  }

  /** Idempotent; every other method rejects with ClosedError afterwards. Writes already called end first. */
  close(): Promise<void> {
    return this.#inTurn(() => {
      if (this.#closed) return;
      this.#closed = true;
      this.#handles.clear();
      this.#db.close();
      return this.#threaded?.writer.stop();
    });
  }

  /**
   * Runs a write now when no threaded write is in flight (a throw becoming a rejection), else
   * after the writes called before it.
   */
  #inTurn<T>(write: () => T | Promise<T>): Promise<T> {
    const previous = this.#tail;
    let result: Promise<T>;
    if (previous === undefined) {
      let value: T | Promise<T>;
      try {
        value = write();
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
      if (!(value instanceof Promise)) return Promise.resolve(value);
      result = value;
    } else {
      result = previous.then(write);
    }
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tail = tail;
    void tail.then(() => {
      if (this.#tail === tail) this.#tail = undefined;
    });
    return result;
  }

  /** The batch goes to the writer thread as columns, the documents already JSON text. */
  async #writeThreaded(
    writer: BulkWriter,
    handle: Handle,
    ops: readonly WriteOp[],
    checkpoint: Checkpoint | undefined,
  ): Promise<number> {
    const ids: string[] = [];
    const positions: string[] = [];
    const docs: (string | null)[] = [];
    for (const op of ops) {
      ids.push(op.id);
      positions.push(op.position);
      docs.push(op.kind === 'upsert' ? JSON.stringify(op.value) : null);
    }
    const request = { collection: handle.name, ids, positions, docs };
    try {
      return await writer.write(checkpoint === undefined ? request : { ...request, checkpoint });
    } catch (error) {
      if (!(error instanceof BulkWriteFailure)) throw error;
      // The same errors as a write on this connection: a unique field, or a dropped collection.
      const unique = translateUniqueError(error.cause, handle.name, handle.indexes, error.id);
      if (unique !== undefined) throw unique;
      return this.#run(handle, () => {
        throw error;
      });
    }
  }

  /**
   * Runs inside one IMMEDIATE transaction. The guard lives in the upsert's WHERE, so a
   * skipped op costs one index probe and `changes` says whether it applied; ops on one id
   * run in batch order, each against the position the previous one left.
   */
  #applyBatch(handle: Handle, ops: readonly WriteOp[], checkpoint?: Checkpoint): number {
    let applied = 0;
    for (const op of ops) {
      const doc = op.kind === 'upsert' ? JSON.stringify(op.value) : null;
      try {
        applied += handle.write.run(op.id, op.position, doc).changes;
      } catch (error) {
        throw translateUniqueError(error, handle.name, handle.indexes, op.id) ?? error;
      }
    }
    if (checkpoint !== undefined) this.#putCheckpoint.run(checkpoint.id, checkpoint.position);
    return applied;
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError('SQLite read store');
  }

  /**
   * Collections are known from the meta table, not only from this instance's ensure calls, so
   * another process's collections work here too. A collection never ensured is a
   * NotFoundError rather than an empty result: it almost always means a misspelt name or a
   * projection that has not started, and an empty page would hide both.
   */
  #handle(collection: string): Handle {
    this.#assertOpen();
    const cached = this.#handles.get(collection);
    if (cached !== undefined) return cached;
    assertCollectionName(collection);
    const indexes = readIndexes(this.#db, collection);
    if (indexes === undefined) throw unknownCollection(collection);
    const handle = this.#prepare(collection, indexes);
    this.#handles.set(collection, handle);
    return handle;
  }

  #prepare(name: string, indexes: IndexMap): Handle {
    const table = `"${tableName(name)}"`;
    return {
      name,
      indexes,
      get: this.#db.prepare(
        `SELECT id, position, doc FROM ${table} WHERE id = ? AND doc IS NOT NULL`,
      ),
      getMany: this.#db.prepare(
        `SELECT id, position, doc FROM ${table} WHERE id IN (SELECT value FROM json_each(?)) AND doc IS NOT NULL`,
      ),
      write: this.#db.prepare(guardedWriteSql(name)),
      finds: new Map(),
    };
  }

  /** Another process may have added indexes since this one read the meta table: look again once. */
  #plan(handle: Handle, query: FindQuery | undefined): FindPlan {
    try {
      return planFind(handle.name, handle.indexes, query);
    } catch (error) {
      if (!(error instanceof NotIndexedError)) throw error;
      const fresh = readIndexes(this.#db, handle.name);
      if (fresh === undefined) {
        this.#handles.delete(handle.name);
        throw unknownCollection(handle.name);
      }
      handle.indexes = fresh;
      return planFind(handle.name, fresh, query);
    }
  }

  #findStatement(handle: Handle, sql: string): Statement<SqlValue[], Row> {
    let statement = handle.finds.get(sql);
    if (statement === undefined) {
      if (handle.finds.size >= MAX_FIND_SHAPES) handle.finds.clear();
      statement = this.#db.prepare<SqlValue[], Row>(sql);
      handle.finds.set(sql, statement);
    }
    return statement;
  }

  /** A collection dropped by another process surfaces as SQLite's "no such table". */
  #run<T>(handle: Handle, action: () => T): T {
    try {
      return action();
    } catch (error) {
      if (error instanceof Error && /no such table/.test(error.message)) {
        this.#handles.delete(handle.name);
        throw unknownCollection(handle.name);
      }
      throw error;
    }
  }
}

/**
 * better-sqlite3 is synchronous; this keeps the port's promise contract, with a throw
 * becoming a rejection rather than escaping synchronously from the call.
 */
function settle<T>(action: () => T): Promise<T> {
  return new Promise((resolve) => resolve(action()));
}

function toStored(row: Row): StoredDocument {
  return { id: row.id, position: row.position, value: JSON.parse(row.doc) as JsonObject };
}

function unknownCollection(collection: string): NotFoundError {
  return new NotFoundError(`Collection ${collection} does not exist; ensureCollection creates it`, {
    collection,
  });
}
