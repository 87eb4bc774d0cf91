/**
 * The pure part of projecting: which events change which documents, and what the documents
 * become. Shared by the live projector (a bus delivery at a time) and the rebuild (large
 * batches read from the log), so that both write exactly the same documents.
 */
import type { JsonObject, Position, RecordedEvent } from '../streams/event-store.js';
import { isAfter } from '../streams/position.js';
import type { Projection, ProjectionContext } from './projection.js';
import type { StoredDocument, WriteOp } from './read-store.js';

/** An event the projection folds, with the document it changes and the partition it travels on. */
export type FoldTarget = Readonly<{ event: RecordedEvent; id: string; partition: number }>;

/** A document's new value (`null`: deleted) and the position of the last event applied to it. */
export type FoldChange<Doc> = Readonly<{ value: Doc | null; position: Position }>;

/**
 * The events among `events` that the projection folds and that come after `after`, each with
 * its document id. `partitionOf` says which partition an event travels on, because a
 * projection may key documents by partition.
 */
export function foldTargets(
  projection: Pick<Projection, 'handles' | 'documentId'>,
  events: Iterable<RecordedEvent>,
  partitionOf: (event: RecordedEvent) => number,
  after?: Position,
): FoldTarget[] {
  const handles = new Set(projection.handles);
  const targets: FoldTarget[] = [];
  for (const event of events) {
    if (!handles.has(event.type) || !isAfter(event.position, after)) continue;
    const partition = partitionOf(event);
    const ctx: ProjectionContext = { partition };
    const id = projection.documentId(event, ctx);
    if (id !== undefined) targets.push({ event, id, partition });
  }
  return targets;
}

/** The distinct document ids the targets change, to load them in one read. */
export function targetIds(targets: readonly FoldTarget[]): string[] {
  return [...new Set(targets.map((target) => target.id))];
}

/**
 * Folds the targets in order onto the loaded documents and returns each changed document with
 * its last event's position. An event at or before a document's position was already applied
 * to it and must be skipped here, not only by the store's guard: in a replayed batch that also
 * holds new events, folding it again would count it twice in the document that the new events
 * then write.
 */
export function foldDocuments<Doc extends JsonObject>(
  projection: Pick<Projection<Doc>, 'evolve'>,
  targets: readonly FoldTarget[],
  loaded: ReadonlyMap<string, StoredDocument>,
): Map<string, FoldChange<Doc>> {
  const fold = createFold(projection);
  fold.apply(targets, loaded);
  return fold.changes;
}

/**
 * A fold fed in steps: the same result as one `foldDocuments` over all the steps' targets, but
 * each step's events can be dropped once applied, so a large batch holds its documents in
 * memory rather than its events. Each step loads only the documents it meets for the first
 * time (`unseen`); the fold already holds the others.
 */
export type Fold<Doc> = Readonly<{
  /** The distinct ids among `targets` that no earlier step met, to load before `apply`. */
  unseen(targets: readonly FoldTarget[]): string[];
  /** `loaded` needs to hold (at least) the stored documents of the ids `unseen` returned. */
  apply(targets: readonly FoldTarget[], loaded: ReadonlyMap<string, StoredDocument>): void;
  /** Each document changed so far, with the position of its last event. */
  readonly changes: Map<string, FoldChange<Doc>>;
}>;

type FoldState<Doc> = { value: Doc | undefined; position: Position | undefined };

export function createFold<Doc extends JsonObject>(
  projection: Pick<Projection<Doc>, 'evolve'>,
): Fold<Doc> {
  const current = new Map<string, FoldState<Doc>>();
  const changes = new Map<string, FoldChange<Doc>>();
  return {
    unseen(targets) {
      const ids = new Set<string>();
      for (const { id } of targets) if (!current.has(id)) ids.add(id);
      return [...ids];
    },
    apply(targets, loaded) {
      for (const { event, id, partition } of targets) {
        let doc = current.get(id);
        if (doc === undefined) {
          const stored = loaded.get(id);
          // A collection only ever holds what this projection version wrote.
          doc = { value: stored?.value as Doc | undefined, position: stored?.position };
          current.set(id, doc);
        }
        if (!isAfter(event.position, doc.position)) continue;
        const next = projection.evolve(doc.value, event, { partition });
        doc.value = next ?? undefined;
        doc.position = event.position;
        changes.set(id, { value: next, position: event.position });
      }
    },
    changes,
  };
}

export function toWriteOps<Doc extends JsonObject>(
  changes: ReadonlyMap<string, FoldChange<Doc>>,
): WriteOp[] {
  return [...changes].map(([id, { value, position }]) =>
    value === null ? { kind: 'delete', id, position } : { kind: 'upsert', id, position, value },
  );
}
