/**
 * The EventBus port: carries the log's events from the relay to projectors and workflows.
 * Adapters: `memory/` (in-process, embedded), `nats/` (JetStream). Every adapter passes
 * `test/contract/event-bus.contract.ts`.
 *
 * Each event goes to one partition, chosen by a stable hash of its stream id, so per-stream
 * order holds within a partition. Watermarks go to every partition so that idle partitions
 * still report how far the log has been relayed.
 */
import type { Position, RecordedEvent } from './event-store.js';

export type BusMessage =
  | Readonly<{ kind: 'event'; partition: number; event: RecordedEvent }>
  | Readonly<{ kind: 'watermark'; partition: number; position: Position }>;

/** A batch handed to a consumer. Unacknowledged batches are delivered again. */
export type Delivery = Readonly<{
  messages: readonly BusMessage[];
  /** Acknowledges every message of the batch. */
  ack(): Promise<void>;
}>;

export type ConsumeOptions = Readonly<{
  /** Durable consumer name, for example `projector:order-view:v1`. */
  consumer: string;
  partition: number;
  /** Most messages in one delivery. @default 256 */
  maxBatch?: number;
  /** Ends the iteration; the iterator returns normally. */
  signal?: AbortSignal;
}>;

export interface EventBus {
  readonly partitions: number;
  /**
   * Whether published messages outlive this process. The in-process bus does not keep them,
   * so after a restart the relay replays the log from the slowest consumer's checkpoint.
   */
  readonly durable: boolean;

  /**
   * Publishes events in the given (log) order, each to its stream's partition. Resolves once
   * the bus has accepted all of them. Republishing an event id is a no-op (deduplication).
   * Slow consumers slow this down rather than letting the bus buffer without bound.
   */
  publish(events: readonly RecordedEvent[]): Promise<void>;

  /** Publishes a watermark at `position` into every partition. */
  publishWatermark(position: Position): Promise<void>;

  /** Delivers one partition's messages in order, batch by batch, to a durable consumer. */
  consume(options: ConsumeOptions): AsyncIterable<Delivery>;

  close(): Promise<void>;
}
