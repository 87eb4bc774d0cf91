/**
 * A projection is a pure fold of events into documents of one collection. It declares the
 * events it handles and the fields queries may use; the projector does all the I/O.
 */
import type { JsonObject, RecordedEvent } from '../streams/event-store.js';
import type { IndexSpec } from './read-store.js';

export type ProjectionContext = Readonly<{
  /** The partition the event travelled on (stable hash of its stream id). */
  partition: number;
}>;

export type Projection<Doc extends JsonObject = JsonObject> = Readonly<{
  /** Kebab-case name, for example `order-view`. */
  name: string;
  /** Bumped whenever the fold or the document shape changes; a new version is rebuilt. */
  version: number;
  /** Event types this projection folds; every other event is skipped without I/O. */
  handles: readonly string[];
  /** Fields that queries may filter or sort on. */
  indexes: readonly IndexSpec[];
  /**
   * The id of the document an event changes, or undefined to ignore it. All events that
   * change one document must travel on one partition: key by stream id, or include
   * `ctx.partition` in the id (as aggregates across streams do).
   */
  documentId(event: RecordedEvent, ctx: ProjectionContext): string | undefined;
  /** Folds one event into the document; `null` deletes the document. */
  evolve(doc: Doc | undefined, event: RecordedEvent, ctx: ProjectionContext): Doc | null;
}>;

/** The projection's processor id, also its checkpoint key prefix and durable consumer name. */
export type ProjectorId = `projector:${string}:v${number}`;
