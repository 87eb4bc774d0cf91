/**
 * Replays the event store (never the bus: the log is the source of truth and holds everything)
 * into one collection: large pages read with `readAll`, each folded in memory as it arrives with
 * the projector's own fold, written with one position-guarded bulk write per batch that also stores the
 * replay's checkpoint, so a crash resumes from the last batch written.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { EventStore, JsonObject, Position, RecordedEvent } from '../../streams/event-store.js';
import { comparePositions } from '../../streams/position.js';
import { partitionOf } from '../../streams/partition.js';
import { createFold, foldTargets, toWriteOps, type Fold } from '../fold.js';
import type { Projection } from '../projection.js';
import type { ReadStore, StoredDocument } from '../read-store.js';

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
 *
 * A batch's write overlaps the reading and folding of the next one (a store that writes on
 * another thread or server does both at once); at most one write is in flight, and `onBatch`
 * follows the batches in order.
 */
export async function replayInto<Doc extends JsonObject>(
  options: ReplayOptions<Doc>,
): Promise<ReplayResult> {
  const { store, checkpointId, signal } = options;
  let position = await store.getCheckpoint(checkpointId);
  let total = 0;
  let readTo = position;
  let previous: Fold<Doc> | undefined;
  let writing: Promise<void> | undefined;
  const aborted = () => signal?.aborted === true;
  try {
    for (let done = false; !done && !aborted();) {
      const batch = await foldBatch(options, readTo, previous);
      await writing;
      // Aborted while the previous batch was written: it is durable, and this one is dropped.
      if (writing !== undefined && aborted()) break;
      done = batch.end;
      const last = batch.last;
      if (last === undefined) break;
      readTo = last;
      previous = batch.fold;
      writing = writeBatch(options, batch.fold, last).then(() => {
        position = last;
        total += batch.events;
        options.onBatch?.({ events: batch.events, position: last });
      });
      // Awaited before the next write or the end; until then a failure must not go unhandled.
      writing.catch(() => undefined);
    }
    await writing;
  } catch (error) {
    await writing?.catch(() => undefined);
    throw error;
  }
  return { events: total, position };
}

type Batch<Doc> = Readonly<{
  fold: Fold<Doc>;
  /** Events read, all types. */
  events: number;
  /** The position of the last event read; undefined when none was. */
  last: Position | undefined;
  /** Whether the log (or `until`) ended within this batch. */
  end: boolean;
}>;

/**
 * Reads pages after `position` until the batch holds `batchEvents` events, folding each page
 * as it arrives: the batch keeps its documents, never its events, which keeps the memory and
 * the garbage collector's work proportional to the documents a batch changes.
 */
async function foldBatch<Doc extends JsonObject>(
  options: ReplayOptions<Doc>,
  position: Position | undefined,
  previous: Fold<Doc> | undefined,
): Promise<Batch<Doc>> {
  const { events, projection, partitions } = options;
  const pageSize = options.pageSize ?? 5000;
  const batchEvents = options.batchEvents ?? 20_000;
  const fold = createFold(projection);
  const partitionOfEvent = (event: RecordedEvent) => partitionOf(event.streamId, partitions);
  let read = 0;
  let last = position;
  while (read < batchEvents) {
    const page = await events.readAll({
      maxCount: pageSize,
      ...(last === undefined ? {} : { after: last }),
    });
    const wanted = options.until === undefined ? page : upTo(page, options.until);
    const targets = foldTargets(projection, wanted, partitionOfEvent);
    fold.apply(targets, await load(options, fold.unseen(targets), previous));
    read += wanted.length;
    last = wanted.at(-1)?.position ?? last;
    // An embedded store answers without real I/O: yield so that queries and the live
    // projector of this process are served between pages, not after the whole replay.
    await yieldToEventLoop();
    if (page.length < pageSize || wanted.length < page.length) {
      return { fold, events: read, last: read === 0 ? undefined : last, end: true };
    }
  }
  return { fold, events: read, last, end: false };
}

/**
 * The documents a fold meets for the first time. Those the previous batch changed come from
 * its fold, since its write may still be in flight; the others, already in the collection
 * (earlier batches, or before a crash), are read from it, and no write in flight touches them.
 * A document the previous batch deleted is absent, as the store would report it.
 */
async function load<Doc extends JsonObject>(
  options: ReplayOptions<Doc>,
  ids: readonly string[],
  previous: Fold<Doc> | undefined,
): Promise<ReadonlyMap<string, StoredDocument>> {
  if (ids.length === 0) return NONE;
  const carried = new Map<string, StoredDocument>();
  const stored: string[] = [];
  for (const id of ids) {
    const change = previous?.changes.get(id);
    if (change === undefined) stored.push(id);
    else if (change.value !== null)
      carried.set(id, { id, position: change.position, value: change.value });
  }
  if (stored.length === 0) return carried;
  const loaded = await options.store.getMany(options.collection, stored);
  if (carried.size === 0) return loaded;
  return new Map([...loaded, ...carried]);
}

const NONE: ReadonlyMap<string, StoredDocument> = new Map();

async function writeBatch<Doc extends JsonObject>(
  options: ReplayOptions<Doc>,
  fold: Fold<Doc>,
  position: Position,
): Promise<void> {
  const { store, collection, checkpointId } = options;
  const checkpoint = { id: checkpointId, position };
  if (fold.changes.size === 0) {
    await store.putCheckpoint(checkpoint);
    return;
  }
  await store.bulkWrite(collection, toWriteOps(fold.changes), checkpoint);
}

function upTo(page: readonly RecordedEvent[], until: Position): readonly RecordedEvent[] {
  const end = page.findIndex((event) => comparePositions(event.position, until) > 0);
  return end === -1 ? page : page.slice(0, end);
}
