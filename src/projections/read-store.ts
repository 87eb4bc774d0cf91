/**
 * The ReadStore port: named collections of JSON documents that projections write and queries
 * read. Adapters: `sqlite/` (embedded), `mongo/` (MongoDB). Every adapter passes
 * `test/contract/read-store.contract.ts`.
 */
import type { JsonObject, Position } from '../streams/event-store.js';

export type IndexSpec = Readonly<{
  /** Top-level field of the document. */
  field: string;
  /** Whether values are unique across the collection. @default false */
  unique?: boolean;
}>;

export type CollectionSpec = Readonly<{
  /** Physical collection name, for example `order_view_v1`. */
  name: string;
  /** Fields that `find` may filter or sort on. */
  indexes: readonly IndexSpec[];
}>;

export type StoredDocument = Readonly<{
  id: string;
  /** The log position of the last event applied to this document. */
  position: Position;
  value: JsonObject;
}>;

/** Writes of one batch. Each applies only if `position` is after the document's stored position. */
export type WriteOp =
  | Readonly<{ kind: 'upsert'; id: string; position: Position; value: JsonObject }>
  | Readonly<{ kind: 'delete'; id: string; position: Position }>;

export type Checkpoint = Readonly<{ id: string; position: Position }>;

export type BulkWriteResult = Readonly<{ applied: number; skipped: number }>;

export type FieldValue = string | number | boolean;

export type FieldCondition =
  | FieldValue
  | Readonly<{
      eq?: FieldValue;
      gt?: FieldValue;
      gte?: FieldValue;
      lt?: FieldValue;
      lte?: FieldValue;
    }>;

export type FindQuery = Readonly<{
  /** Conditions on indexed fields, all of which must hold. */
  where?: Readonly<Record<string, FieldCondition>>;
  /** Sort on an indexed field; ties are broken by id. @default by id ascending */
  orderBy?: Readonly<{ field: string; direction?: 'asc' | 'desc' }>;
  /** @default 50 */
  limit?: number;
  /** An opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
}>;

export type FindResult = Readonly<{
  items: readonly StoredDocument[];
  /** Present when there may be more items. */
  nextCursor?: string;
}>;

export interface ReadStore {
  /** Creates the collection and its indexes if missing. Idempotent. */
  ensureCollection(spec: CollectionSpec): Promise<void>;

  get(collection: string, id: string): Promise<StoredDocument | undefined>;

  getMany(collection: string, ids: readonly string[]): Promise<ReadonlyMap<string, StoredDocument>>;

  /** Filters and sorts on indexed fields only; anything else is a `NotIndexedError`. */
  find(collection: string, query?: FindQuery): Promise<FindResult>;

  /**
   * Applies a batch with a per-document position guard and, in the same transaction where the
   * store has them, stores the checkpoint. Where it cannot be atomic, documents are written
   * before the checkpoint, so a crash only causes harmless reapplication.
   */
  bulkWrite(
    collection: string,
    ops: readonly WriteOp[],
    checkpoint?: Checkpoint,
  ): Promise<BulkWriteResult>;

  getCheckpoint(id: string): Promise<Position | undefined>;

  /** Stores a checkpoint on its own, for processors that write no documents (the relay). */
  putCheckpoint(checkpoint: Checkpoint): Promise<void>;

  /** Removes a checkpoint, for example when a projection version is retired. */
  deleteCheckpoint(id: string): Promise<void>;

  /** Lists collection names, for housekeeping and rebuilds. */
  listCollections(): Promise<readonly string[]>;

  dropCollection(name: string): Promise<void>;

  close(): Promise<void>;
}
