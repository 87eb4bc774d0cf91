/**
 * The position-guarded batch write: one unordered `bulkWrite` of upserts, each of which only
 * matches its document while the stored position is older than the op's.
 *
 * When the guard does not match, the upsert tries to insert and the `_id` index refuses with
 * E11000. That means "already applied", except in one race: two writers upserting a document
 * that does not exist yet both miss the filter, one inserts, and the other's insert fails even
 * though its position may be the newer one (mongod retries such upserts itself only when the
 * filter is nothing but equalities on the key). So the ops refused on `_id` are sent once
 * more: the document exists by then and is never removed (deletes are tombstones), so a
 * second refusal is definitive.
 *
 * Deletes are upserts of a tombstone, so every op is an update and the driver keeps them in
 * batch order (it regroups unordered bulks by op kind); mongod applies them in order too.
 */
import {
  MongoBulkWriteError,
  type AnyBulkWriteOperation,
  type BulkWriteResult,
  type Collection,
  type WriteError,
} from 'mongodb';
import type { BulkWriteResult as PortResult, WriteOp } from '../read-store.js';
import { duplicateField, isIdDuplicate, uniqueViolation, type StoredDoc } from './schema.js';

type Attempt = Readonly<{ applied: number; refusedOnId: readonly number[] }>;

export async function writeGuarded(
  collection: Collection<StoredDoc>,
  name: string,
  ops: readonly WriteOp[],
): Promise<PortResult> {
  if (ops.length === 0) return { applied: 0, skipped: 0 };
  const first = await attempt(collection, name, ops, [...ops.keys()]);
  if (first.refusedOnId.length === 0) return { applied: first.applied, skipped: 0 };
  const second = await attempt(collection, name, ops, first.refusedOnId);
  const applied = first.applied + second.applied;
  return { applied, skipped: ops.length - applied };
}

function toModel(op: WriteOp): AnyBulkWriteOperation<StoredDoc> {
  return {
    updateOne: {
      filter: { _id: op.id, position: { $lt: op.position } },
      update: { $set: { position: op.position, doc: op.kind === 'upsert' ? op.value : null } },
      upsert: true,
    },
  };
}

async function attempt(
  collection: Collection<StoredDoc>,
  name: string,
  ops: readonly WriteOp[],
  indices: readonly number[],
): Promise<Attempt> {
  const models = indices.map((index) => toModel(ops[index] as WriteOp));
  try {
    const result = await collection.bulkWrite(models, { ordered: false });
    return { applied: appliedIn(result), refusedOnId: [] };
  } catch (error) {
    if (!(error instanceof MongoBulkWriteError) || error.writeErrors === undefined) throw error;
    const writeErrors = ([] as WriteError[]).concat(error.writeErrors as WriteError | WriteError[]);
    const refusedOnId: number[] = [];
    for (const writeError of writeErrors) {
      const op = ops[indices[writeError.index] ?? -1];
      if (op !== undefined && isIdDuplicate(writeError.code, writeError.errmsg ?? '')) {
        refusedOnId.push(indices[writeError.index] as number);
        continue;
      }
      if (writeError.code === 11000) {
        throw uniqueViolation(name, duplicateField(writeError.errmsg ?? ''), error, op?.id);
      }
      throw error;
    }
    return { applied: appliedIn(error.result), refusedOnId };
  }
}

/** An op applied when its guard matched (an update) or it created the document (an upsert). */
function appliedIn(result: BulkWriteResult): number {
  return result.matchedCount + result.upsertedCount;
}
