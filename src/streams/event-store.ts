/**
 * The EventStore port: the log is the source of truth. Adapters: `sqlite/` (embedded),
 * `esdb/` (EventStoreDB). Every adapter passes `test/contract/event-store.contract.ts`.
 */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue =
  JsonPrimitive | readonly JsonValue[] | { readonly [key: string]: JsonValue };
export type JsonObject = { readonly [key: string]: JsonValue };

/**
 * A global log position, opaque outside its adapter. Adapters encode positions as fixed-width
 * strings so that plain string comparison is log order (see `position.ts`).
 */
export type Position = string;

export type EventMetadata = Readonly<{
  /** ISO 8601 time the event occurred, supplied by the command handler, never by the domain. */
  occurredAt: string;
  correlationId?: string;
  causationId?: string;
  schemaVersion?: number;
  [key: string]: JsonValue | undefined;
}>;

/** An event about to be appended. `id` is a UUID chosen by the writer; it makes appends idempotent. */
export type NewEvent = Readonly<{
  id: string;
  type: string;
  data: JsonObject;
  metadata: EventMetadata;
}>;

/** An event as the log recorded it. */
export type RecordedEvent = Readonly<{
  id: string;
  type: string;
  streamId: string;
  /** Position within the stream, from 0, contiguous. */
  revision: number;
  position: Position;
  data: JsonObject;
  metadata: EventMetadata;
}>;

/**
 * What the writer expects the stream to be before the append:
 * - `'any'`: no check;
 * - `'no-stream'`: the stream must not exist;
 * - `'stream-exists'`: the stream must have at least one event;
 * - a number: the stream's last revision must be exactly that.
 */
export type ExpectedRevision = 'any' | 'no-stream' | 'stream-exists' | number;

export type AppendOptions = Readonly<{
  /** @default 'any' */
  expectedRevision?: ExpectedRevision;
}>;

export type AppendResult = Readonly<{
  /** The stream's revision after the append (the last appended event's revision). */
  nextExpectedRevision: number;
  /** The log position of the last appended event. */
  position: Position;
}>;

export type ReadStreamOptions = Readonly<{
  /** @default 'forwards' */
  direction?: 'forwards' | 'backwards';
  /** Inclusive. @default the first revision going forwards, the last going backwards */
  fromRevision?: number;
  /** @default unlimited */
  maxCount?: number;
}>;

export type ReadAllOptions = Readonly<{
  /** Exclusive: return events strictly after this position. @default the start of the log */
  after?: Position;
  /** @default 1000 */
  maxCount?: number;
}>;

export type SubscribeOptions = Readonly<{
  /** Exclusive: deliver events strictly after this position. @default the start of the log */
  after?: Position;
  /** Ends the iteration; the iterator returns normally. */
  signal?: AbortSignal;
  /** How many events to read from the log per round trip. @default 500 */
  batchSize?: number;
}>;

export interface EventStore {
  /**
   * Appends events to one stream atomically. Resolves once the events are durable.
   * Rejects with `ConflictError` when `expectedRevision` does not hold. Appending events whose
   * ids were already appended to the stream in the same order appends nothing and resolves
   * with the original result.
   */
  append(
    streamId: string,
    events: readonly NewEvent[],
    options?: AppendOptions,
  ): Promise<AppendResult>;

  /** Reads one stream. A stream that does not exist reads as empty. */
  readStream(streamId: string, options?: ReadStreamOptions): Promise<readonly RecordedEvent[]>;

  /** Reads a batch of the whole log in position order. */
  readAll(options?: ReadAllOptions): Promise<readonly RecordedEvent[]>;

  /**
   * The whole log from a position: catches up, then follows live appends. Pulls from the log
   * only as fast as the consumer iterates (back-pressure). Ends when `signal` aborts.
   */
  subscribeToAll(options?: SubscribeOptions): AsyncIterable<RecordedEvent>;

  /** The position of the last event in the log, or undefined when the log is empty. */
  headPosition(): Promise<Position | undefined>;

  /** Finishes pending appends, then releases resources. */
  close(): Promise<void>;
}
