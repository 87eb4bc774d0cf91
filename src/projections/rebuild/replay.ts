/**
 * Replays the event store (never the bus: the log is the source of truth and holds everything)
 * into one collection: large pages read with `readAll`, folded in memory with the projector's
 * own fold, written with one position-guarded bulk write per batch that also stores the
 * replay's checkpoint, so a crash resumes from the last batch written.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { EventStore, JsonObject, Position, RecordedEvent } from '../../streams/event-store.js';
import { comparePositions } from '../../streams/position.js';
import { partitionOf } from '../../streams/partition.js';
import { foldDocuments, foldTargets, targetIds, toWriteOps } from '../fold.js';
import type { Projection } from '../projection.js';
import type { ReadStore } from '../read-store.js';

export type ReplayOptions<Doc extends JsonObject = JsonObject> = Readonly<{
  events: EventStore;
  store: ReadStore;
  projection: Projection<Doc>;
  collection: string;
  /** The replay's own checkpoint id, stored with every batch. */
  checkpointId: string;
  /** The bus's partition count: a projection may key documents by partition. */
  partitions: number;
  /** Events read per `readAll` call. @default 5000 */
  pageSize?: number;
  /** Events folded in memory before one bulk write. @default 20000 */
  batchEvents?: number;
  /** Stops after the batch holding this position; @default the head when each page is read */
  until?: Position;
  signal?: AbortSignal;
  /** Called after each batch is durable, with the events it read. */
  onBatch?: (progress: Readonly<{ events: number; position: Position }>) => void;
}>;

export type ReplayResult = Readonly<{
  /** Events read (all types, not only those the projection folds). */
  events: number;
  /** The position the collection now reflects, or where it started if nothing was read. */
  position: Position | undefined;
}>;

/**
 * Replays from the stored checkpoint (or the start of the log) until the log has no more
 * events, or `until` is reached. Resolves early, after a durable batch, when `signal` aborts.
 */
export async function replayInto<Doc extends JsonObject>(
  options: ReplayOptions<Doc>,
): Promise<ReplayResult> {
  const { events, store, checkpointId, signal } = options;
  const pageSize = options.pageSize ?? 5000;
  const batchEvents = options.batchEvents ?? 20_000;
  let position = await store.getCheckpoint(checkpointId);
  let total = 0;
  let done = false;
  while (!done && signal?.aborted !== true) {
    const batch: RecordedEvent[] = [];
    while (batch.length < batchEvents) {
      const after = batch.at(-1)?.position ?? position;
      const page = await events.readAll({
        maxCount: pageSize,
        ...(after === undefined ? {} : { after }),
      });
      const wanted = options.until === undefined ? page : upTo(page, options.until);
      batch.push(...wanted);
      // An embedded store answers without real I/O: yield so that queries and the live
      // projector of this process are served between pages, not after the whole replay.
      await yieldToEventLoop();
      if (page.length < pageSize || wanted.length < page.length) {
        done = true;
        break;
      }
    }
    const last = batch.at(-1);
    if (last === undefined) break;
    await writeBatch(options, batch, last.position);
    position = last.position;
    total += batch.length;
    options.onBatch?.({ events: batch.length, position });
  }
  return { events: total, position };
}

async function writeBatch<Doc extends JsonObject>(
  options: ReplayOptions<Doc>,
  batch: readonly RecordedEvent[],
  position: Position,
): Promise<void> {
  const { store, projection, collection, checkpointId, partitions } = options;
  const targets = foldTargets(projection, batch, (event) =>
    partitionOf(event.streamId, partitions),
  );
  const checkpoint = { id: checkpointId, position };
  if (targets.length === 0) {
    await store.putCheckpoint(checkpoint);
    return;
  }
  // Documents already in the collection (earlier batches, or before a crash) are folded on.
  const loaded = await store.getMany(collection, targetIds(targets));
  const changes = foldDocuments(projection, targets, loaded);
  await store.bulkWrite(collection, toWriteOps(changes), checkpoint);
}

function upTo(page: readonly RecordedEvent[], until: Position): readonly RecordedEvent[] {
  const end = page.findIndex((event) => comparePositions(event.position, until) > 0);
  return end === -1 ? page : page.slice(0, end);
}
