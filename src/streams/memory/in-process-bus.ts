/**
 * The embedded EventBus: per partition an in-memory log that every named consumer reads with
 * its own cursor. Nothing survives the process (`durable = false`), so after a restart the relay
 * replays the log from the slowest projector checkpoint and the projectors' position guards skip
 * what they had already applied.
 *
 * Consumers register when `consume()` is called and see the messages published from then on.
 * Embedded mode therefore starts every projector before the relay; a consumer that comes later
 * relies on that replay, not on this bus, for the past.
 */
import { setMaxListeners } from 'node:events';
import { ClosedError, ConfigError } from '../../errors.js';
import type { BusMessage, ConsumeOptions, Delivery, EventBus } from '../event-bus.js';
import type { Position, RecordedEvent } from '../event-store.js';
import { partitionOf } from '../partition.js';
import { maxPosition } from '../position.js';

export type InProcessBusOptions = Readonly<{
  /** @default 4 */
  partitions?: number;
  /**
   * Most messages a consumer of one partition may have unacknowledged or queued before
   * `publish` waits for it. @default 10_000
   */
  capacity?: number;
  /** How many recently published event ids are remembered for deduplication. @default 100_000 */
  dedupWindow?: number;
}>;

const DEFAULT_MAX_BATCH = 256;

/** Sleeping without polling: waiters are resolved by whoever changes the state they wait on. */
class Wakeup {
  readonly #waiters = new Set<() => void>();

  /** Resolves on the next `notify()` or as soon as any of the signals aborts. */
  wait(signals: readonly (AbortSignal | undefined)[]): Promise<void> {
    return new Promise((resolve) => {
      if (signals.some((signal) => signal?.aborted === true)) return resolve();
      const done = (): void => {
        this.#waiters.delete(done);
        for (const signal of signals) signal?.removeEventListener('abort', done);
        resolve();
      };
      this.#waiters.add(done);
      for (const signal of signals) signal?.addEventListener('abort', done, { once: true });
    });
  }

  notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/** Ids seen lately, oldest evicted first (a Set iterates in insertion order). */
class RecentIds {
  readonly #ids = new Set<string>();
  constructor(private readonly limit: number) {}

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  add(id: string): void {
    this.#ids.add(id);
    if (this.#ids.size <= this.limit) return;
    const oldest = this.#ids.values().next();
    if (oldest.done !== true) this.#ids.delete(oldest.value);
  }
}

/** `acked`: sequence number after the last acknowledged message; `handed`: after the last delivered. */
type Cursor = { acked: number; handed: number };

/** One partition: messages numbered by `seq`, kept until every consumer has acknowledged them. */
class PartitionLog {
  /** Live messages are `#messages[#start..]`; the first of them has sequence number `#base`. */
  #messages: BusMessage[] = [];
  #start = 0;
  #base = 0;
  /** Ids of the events still in the log, for deduplication independent of the recent window. */
  readonly #ids = new Set<string>();
  readonly consumers = new Map<string, Cursor>();
  /** Rung on every append: consumers wait on it. */
  readonly appended = new Wakeup();
  /** Rung when messages are dropped: publishers held back by a slow consumer wait on it. */
  readonly drained = new Wakeup();

  constructor(readonly index: number) {}

  /** Sequence number the next message will get. */
  get next(): number {
    return this.#base + this.length;
  }

  /** Messages still held, which is how far the slowest consumer lags. */
  get length(): number {
    return this.#messages.length - this.#start;
  }

  holds(eventId: string): boolean {
    return this.#ids.has(eventId);
  }

  /** A newcomer starts at the end: it sees what is published from now on. */
  register(consumer: string): Cursor {
    let cursor = this.consumers.get(consumer);
    if (cursor === undefined) {
      cursor = { acked: this.next, handed: this.next };
      this.consumers.set(consumer, cursor);
    }
    return cursor;
  }

  append(message: BusMessage): void {
    this.#messages.push(message);
    if (message.kind === 'event') this.#ids.add(message.event.id);
    this.trim();
    this.appended.notify();
  }

  /**
   * A watermark right behind a watermark that no consumer has been handed yet replaces it:
   * every consumer still sees the newer one, and the log of a partition whose consumer lags
   * does not fill up with watermarks.
   */
  coalesceWatermark(position: Position): boolean {
    const last = this.#messages.at(-1);
    if (this.length === 0 || last?.kind !== 'watermark') return false;
    const lastSeq = this.next - 1;
    for (const cursor of this.consumers.values()) if (cursor.handed > lastSeq) return false;
    const merged = maxPosition(last.position, position) ?? position;
    this.#messages[this.#messages.length - 1] = { ...last, position: merged };
    this.appended.notify();
    return true;
  }

  read(from: number, max: number): BusMessage[] {
    const offset = this.#start + (from - this.#base);
    return this.#messages.slice(offset, offset + max);
  }

  ack(cursor: Cursor, upTo: number): void {
    if (upTo <= cursor.acked) return;
    cursor.acked = Math.min(upTo, this.next);
    this.trim();
  }

  /** Drops what every registered consumer has acknowledged (everything, if none is registered). */
  trim(): void {
    let keepFrom = this.next;
    for (const cursor of this.consumers.values()) keepFrom = Math.min(keepFrom, cursor.acked);
    const drop = keepFrom - this.#base;
    if (drop <= 0) return;
    for (let i = this.#start; i < this.#start + drop; i++) {
      const message = this.#messages[i];
      if (message?.kind === 'event') this.#ids.delete(message.event.id);
    }
    this.#start += drop;
    this.#base = keepFrom;
    // Compact now and then rather than shifting the array on every acknowledgement.
    if (this.#start > 1024 && this.#start * 2 > this.#messages.length) {
      this.#messages = this.#messages.slice(this.#start);
      this.#start = 0;
    }
    this.drained.notify();
  }
}

class InProcessBus implements EventBus {
  readonly durable = false;
  readonly partitions: number;
  readonly #capacity: number;
  readonly #logs: readonly PartitionLog[];
  readonly #recent: RecentIds;
  // Every waiting consumer listens for close: many consumers are not a leak.
  readonly #closing = unlimited(new AbortController());
  /**
   * Publishes run one after another: a publish held back on one partition must not let a later
   * publish overtake it on another, or a stream's events could arrive out of order.
   */
  #queue: Promise<void> = Promise.resolve();

  constructor(partitions: number, capacity: number, dedupWindow: number) {
    this.partitions = partitions;
    this.#capacity = capacity;
    this.#recent = new RecentIds(dedupWindow);
    this.#logs = Array.from({ length: partitions }, (_, index) => new PartitionLog(index));
  }

  publish(events: readonly RecordedEvent[]): Promise<void> {
    return this.#enqueue(() => this.#publishEvents(events));
  }

  publishWatermark(position: Position): Promise<void> {
    return this.#enqueue(() => this.#publishWatermark(position));
  }

  consume(options: ConsumeOptions): AsyncIterable<Delivery> {
    const log = this.#log(options.partition);
    const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) {
      throw new ConfigError('maxBatch must be a positive integer', { maxBatch });
    }
    // Registered now, not on the first next(): messages published from this call on are kept.
    const cursor = log.register(options.consumer);
    return this.#deliveries(log, cursor, maxBatch, options.signal);
  }

  close(): Promise<void> {
    this.#closing.abort();
    return Promise.resolve();
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(task);
    this.#queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async #publishEvents(events: readonly RecordedEvent[]): Promise<void> {
    for (const event of events) {
      this.#assertOpen();
      const log = this.#log(partitionOf(event.streamId, this.partitions));
      if (this.#recent.has(event.id) || log.holds(event.id)) continue;
      await this.#roomIn(log);
      log.append({ kind: 'event', partition: log.index, event });
      this.#recent.add(event.id);
    }
  }

  async #publishWatermark(position: Position): Promise<void> {
    for (const log of this.#logs) {
      this.#assertOpen();
      if (log.coalesceWatermark(position)) continue;
      await this.#roomIn(log);
      log.append({ kind: 'watermark', partition: log.index, position });
    }
  }

  /** Back-pressure: waits while the slowest consumer of the partition is `capacity` behind. */
  async #roomIn(log: PartitionLog): Promise<void> {
    while (log.length >= this.#capacity) {
      await log.drained.wait([this.#closing.signal]);
      this.#assertOpen();
    }
  }

  /**
   * Every delivery starts at the consumer's last acknowledgement, so a batch the consumer moves
   * past without acknowledging comes again: at-least-once without timers.
   */
  async *#deliveries(
    log: PartitionLog,
    cursor: Cursor,
    maxBatch: number,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<Delivery, void, undefined> {
    const closing = this.#closing.signal;
    while (signal?.aborted !== true && !closing.aborted) {
      const from = cursor.acked;
      const messages = log.read(from, maxBatch);
      if (messages.length === 0) {
        await log.appended.wait([signal, closing]);
        continue;
      }
      const upTo = from + messages.length;
      cursor.handed = Math.max(cursor.handed, upTo);
      yield {
        messages,
        ack: () => {
          log.ack(cursor, upTo);
          return Promise.resolve();
        },
      };
    }
  }

  #log(partition: number): PartitionLog {
    const log = this.#logs[partition];
    if (!Number.isInteger(partition) || log === undefined) {
      throw new ConfigError(`Partition ${partition} is outside 0..${this.partitions - 1}`, {
        partition,
      });
    }
    return log;
  }

  #assertOpen(): void {
    if (this.#closing.signal.aborted) throw new ClosedError('In-process bus');
  }
}

export function createInProcessBus(options: InProcessBusOptions = {}): EventBus {
  const { partitions = 4, capacity = 10_000, dedupWindow = 100_000 } = options;
  for (const [name, value] of Object.entries({ partitions, capacity, dedupWindow })) {
    if (!Number.isInteger(value) || value < 1) {
      throw new ConfigError(`${name} must be a positive integer`, { [name]: value });
    }
  }
  return new InProcessBus(partitions, capacity, dedupWindow);
}

function unlimited(controller: AbortController): AbortController {
  setMaxListeners(0, controller.signal);
  return controller;
}
