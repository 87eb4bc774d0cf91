/**
 * Folds events through a projection the way the projector does, without any store:
 * events it does not handle are skipped, each event goes to the document `documentId` names,
 * and the per-document position guard skips an event at or before the document's last applied
 * position, so redelivering an event provably changes nothing.
 *
 * Documents pass through a JSON round trip, as in a real store, and the round trip must not
 * change them (no `undefined` fields, no Dates); inputs are frozen, so a fold that mutates
 * the document or the event fails loudly.
 */
import { expect } from 'vitest';
import type { Projection } from '../../src/projections/projection.js';
import type { JsonObject, Position, RecordedEvent } from '../../src/streams/event-store.js';

export type EventToRecord = Readonly<{ type: string; data: JsonObject }>;

export type RecordOptions = Readonly<{ occurredAt?: string }>;

export type EventLog = Readonly<{
  /** Appends an event to a stream of this in-memory log and returns it as recorded. */
  record(streamId: string, event: EventToRecord, options?: RecordOptions): RecordedEvent;
}>;

/** Where generated `occurredAt` times start; each event is one second after the previous one. */
export const LOG_EPOCH = '2026-11-22T14:00:00.000Z';

/** Positions are 20-digit zero-padded strings, so string order is log order. */
export const positionOf = (n: number): Position => String(n).padStart(20, '0');

export function createEventLog(): EventLog {
  let last = 0;
  const revisions = new Map<string, number>();
  return {
    record(streamId, event, options = {}) {
      last += 1;
      const revision = (revisions.get(streamId) ?? -1) + 1;
      revisions.set(streamId, revision);
      const occurredAt =
        options.occurredAt ?? new Date(Date.parse(LOG_EPOCH) + (last - 1) * 1000).toISOString();
      return {
        id: `event-${last}`,
        type: event.type,
        streamId,
        revision,
        position: positionOf(last),
        data: event.data,
        metadata: { occurredAt, schemaVersion: 1 },
      };
    },
  };
}

export type ProjectOptions = Readonly<{
  /** The partition each event travels on. @default every event on partition 0 */
  partitionOf?: (event: RecordedEvent) => number;
}>;

export type Projected<Doc> = Readonly<{
  documents: ReadonlyMap<string, Doc>;
  /** Last applied position per document. */
  positions: ReadonlyMap<string, Position>;
  /** Events the position guard skipped. */
  skipped: number;
}>;

export function project<Doc extends JsonObject>(
  projection: Projection<Doc>,
  events: readonly RecordedEvent[],
  options: ProjectOptions = {},
): Projected<Doc> {
  const partitionOf = options.partitionOf ?? (() => 0);
  const documents = new Map<string, Doc>();
  const positions = new Map<string, Position>();
  let skipped = 0;
  for (const event of events) {
    if (!projection.handles.includes(event.type)) continue;
    const ctx = { partition: partitionOf(event) };
    const id = projection.documentId(event, ctx);
    if (id === undefined) continue;
    const stored = positions.get(id);
    if (stored !== undefined && event.position <= stored) {
      skipped += 1;
      continue;
    }
    const next = projection.evolve(deepFreeze(documents.get(id)), deepFreeze(event), ctx);
    if (next === null) {
      documents.delete(id);
      positions.delete(id);
    } else {
      documents.set(id, throughJson(next));
      positions.set(id, event.position);
    }
  }
  return { documents, positions, skipped };
}

/** The document as a store would hand it back; fails when JSON would change it. */
function throughJson<Doc>(doc: Doc): Doc {
  const copy = JSON.parse(JSON.stringify(doc)) as Doc;
  expect(copy, 'a projected document must survive a JSON round trip').toStrictEqual(doc);
  return copy;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
