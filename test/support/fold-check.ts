/**
 * "Every read model equals a from-scratch fold of the log": reads the whole log, folds it with
 * the checkout projections in memory (as the embedded pipeline would), and compares each
 * collection of a read store, document by document, value and last applied position.
 */
import { expect } from 'vitest';
import { checkoutProjections } from '../../src/projections/index.js';
import type { Projection } from '../../src/projections/projection.js';
import { collectionName } from '../../src/projections/projector.js';
import type { ReadStore, StoredDocument } from '../../src/projections/read-store.js';
import type { EventStore, Position, RecordedEvent } from '../../src/streams/event-store.js';
import { partitionOf } from '../../src/streams/partition.js';
import type { ProjectionProgress } from '../../src/queries/consistency.js';
import { project } from './projection-spec.js';

export async function readWholeLog(store: EventStore): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for (;;) {
    const last = events.at(-1)?.position;
    const batch = await store.readAll({
      ...(last === undefined ? {} : { after: last }),
      maxCount: 1000,
    });
    if (batch.length === 0) return events;
    events.push(...batch);
  }
}

export async function allDocuments(
  store: ReadStore,
  collection: string,
): Promise<Map<string, StoredDocument>> {
  const documents = new Map<string, StoredDocument>();
  let cursor: string | undefined;
  do {
    const page = await store.find(collection, {
      limit: 1000,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const doc of page.items) documents.set(doc.id, doc);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return documents;
}

/** Asserts each projection's collection equals the fold of `log`; returns the document counts. */
export async function expectReadModelsToEqualFold(
  store: ReadStore,
  log: readonly RecordedEvent[],
  partitions: number,
  projections: readonly Projection[] = checkoutProjections,
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const projection of projections) {
    const folded = project(projection, log, {
      partitionOf: (event) => partitionOf(event.streamId, partitions),
    });
    const stored = await allDocuments(store, collectionName(projection));
    const actual = Object.fromEntries(
      [...stored].map(([id, doc]) => [id, { position: doc.position, value: doc.value }]),
    );
    const expected = Object.fromEntries(
      [...folded.documents].map(([id, value]) => [
        id,
        { position: folded.positions.get(id), value },
      ]),
    );
    expect(actual, `read model ${projection.name}`).toEqual(expected);
    counts[projection.name] = stored.size;
  }
  return counts;
}

/**
 * Resolves once every checkout projection has passed `head` on every partition, as announced
 * by the projector processes over NATS (checkpoints of partitions that only see watermarks are
 * stored lazily, so the read store alone cannot tell). Throws naming the laggards.
 */
export async function waitForProgress(
  progress: ProjectionProgress,
  head: Position,
  timeoutMs: number,
  projections: readonly Projection[] = checkoutProjections,
): Promise<void> {
  const reached = await Promise.all(
    projections.map((projection) => progress.waitFor(projection.name, head, timeoutMs)),
  );
  const behind = projections.filter((_, i) => reached[i] !== true);
  if (behind.length > 0) {
    const at = behind.map((p) => `${p.name} at ${progress.position(p.name) ?? 'nothing'}`);
    throw new Error(`not caught up with ${head} after ${timeoutMs} ms: ${at.join(', ')}`);
  }
}
