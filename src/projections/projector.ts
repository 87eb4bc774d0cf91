/**
 * The projector runs one projection: one durable consumer per partition, each folding its
 * deliveries into documents with one position-guarded bulk write that also stores the
 * partition's checkpoint, and acknowledging only after that write. A crash between write and
 * ack means a redelivery, which the position guard turns into a no-op: every event's effect
 * applies exactly once.
 */
import { setMaxListeners } from 'node:events';
import { backoffDelay, sleep } from '../async.js';
import { ConfigError } from '../errors.js';
import type { BusMessage, Delivery, EventBus } from '../streams/event-bus.js';
import type { JsonObject, Position } from '../streams/event-store.js';
import { isAfter, maxPosition, minPosition } from '../streams/position.js';
import {
  foldDocuments,
  foldTargets,
  targetIds,
  toWriteOps,
  type FoldChange,
  type FoldTarget,
} from './fold.js';
import type { Projection, ProjectorId } from './projection.js';
import type { ReadStore, StoredDocument } from './read-store.js';

/** What one committed batch changed; `null` marks a deleted document. */
export type CommittedChange = Readonly<{
  collection: string;
  ids: readonly string[];
  /** The partition checkpoint written with the batch. */
  position: Position;
  documents: ReadonlyMap<string, StoredDocument | null>;
}>;

/** The part of a pino logger the projector uses. */
export type ProjectorLogger = Readonly<{
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}>;

export type ProjectorOptions<Doc extends JsonObject = JsonObject> = Readonly<{
  projection: Projection<Doc>;
  bus: EventBus;
  store: ReadStore;
  /**
   * The physical collection to write, which a rebuild may replace (see `switchCollection`).
   * @default `collectionName(projection)`, the projection's first generation
   */
  collection?: string;
  /** The partitions this process owns. @default every partition of the bus */
  partitions?: readonly number[];
  /** Most messages folded in one batch. @default 500 */
  maxBatch?: number;
  /** How often a partition that only sees watermarks stores its checkpoint. @default 1000 */
  checkpointIntervalMs?: number;
  /** Back-off after a failed batch: doubles from `initialMs` up to `maxMs`, with jitter. */
  retry?: Readonly<{ initialMs?: number; maxMs?: number }>;
  logger?: ProjectorLogger;
  /** Called after each batch that changed documents is written, for example to drop cached copies. */
  onCommit?: (change: CommittedChange) => void | Promise<void>;
}>;

export type WaitOptions = Readonly<{ signal?: AbortSignal; timeoutMs: number }>;

export interface Projector {
  readonly id: ProjectorId;
  /** The collection batches are written to now. */
  readonly collection: string;
  start(): Promise<void>;
  /**
   * Lets every partition finish its current batch and holds the next ones while `prepare`
   * runs (for example, a rebuild replaying the log's tail into its shadow collection), then
   * goes on writing to the collection `prepare` returns, from the same checkpoints. If
   * `prepare` fails, nothing changes and the error is rethrown.
   */
  switchCollection(prepare: () => Promise<string>): Promise<void>;
  /** Lets each partition finish its current batch, then stores the checkpoints. */
  stop(): Promise<void>;
  /** How far the projection has surely got: the lowest progress over the owned partitions. */
  progress(): Position | undefined;
  partitionProgress(partition: number): Position | undefined;
  /** Resolves true once `progress()` reaches `position`, false on timeout or abort. */
  waitFor(position: Position, options: WaitOptions): Promise<boolean>;
  /**
   * The same for one partition: enough for a document whose events all travel on it. Resolves
   * false at once for a partition this projector does not own.
   */
  waitForPartition(partition: number, position: Position, options: WaitOptions): Promise<boolean>;
  /** The lowest stored checkpoint over the owned partitions; undefined if any is missing. */
  lowestCheckpoint(): Promise<Position | undefined>;
}

/** Physical collection of a projection version, for example `order_view_v1`. */
export function collectionName(projection: Pick<Projection, 'name' | 'version'>): string {
  return `${projection.name.replaceAll('-', '_')}_v${projection.version}`;
}

/** Durable consumer name and checkpoint prefix, for example `projector:order-view:v1`. */
export function projectorId(projection: Pick<Projection, 'name' | 'version'>): ProjectorId {
  return `projector:${projection.name}:v${projection.version}`;
}

export function createProjector<Doc extends JsonObject>(options: ProjectorOptions<Doc>): Projector {
  return new ProjectionRunner(options);
}

type PartitionState = {
  readonly partition: number;
  readonly checkpointId: string;
  /** Every message of the partition up to here is processed. */
  progress: Position | undefined;
  /** The checkpoint as last stored. */
  stored: Position | undefined;
  storedAt: number;
  failures: number;
};

const consoleLogger: ProjectorLogger = {
  info: () => undefined,
  warn: (fields, message) => console.warn(message, fields),
  error: (fields, message) => console.error(message, fields),
};

class ProjectionRunner<Doc extends JsonObject> implements Projector {
  readonly id: ProjectorId;
  readonly #options: ProjectorOptions<Doc>;
  readonly #partitions: ReadonlyMap<number, PartitionState>;
  readonly #maxBatch: number;
  readonly #checkpointIntervalMs: number;
  readonly #logger: ProjectorLogger;
  /** Waiters re-check their condition whenever progress moves. */
  readonly #waiters = new Set<() => void>();
  #running: { stopping: AbortController; loops: Promise<void>[] } | undefined;
  #collection: string;
  /** Batches being applied now; a switch waits for them to finish. */
  #inFlight = 0;
  #drained: (() => void) | undefined;
  /** Set while a switch holds new batches back. */
  #held: Promise<void> | undefined;

  constructor(options: ProjectorOptions<Doc>) {
    this.#options = options;
    this.id = projectorId(options.projection);
    this.#collection = options.collection ?? collectionName(options.projection);
    this.#maxBatch = positiveInteger('maxBatch', options.maxBatch ?? 500);
    this.#checkpointIntervalMs = options.checkpointIntervalMs ?? 1000;
    this.#logger = options.logger ?? consoleLogger;
    this.#partitions = new Map(
      ownedPartitions(options.bus, options.partitions).map((partition) => [
        partition,
        {
          partition,
          checkpointId: `${this.id}:p${partition}`,
          progress: undefined,
          stored: undefined,
          storedAt: 0,
          failures: 0,
        },
      ]),
    );
  }

  async start(): Promise<void> {
    if (this.#running !== undefined) throw new Error(`Projector ${this.id} is already running`);
    const { projection, store } = this.#options;
    await store.ensureCollection({ name: this.collection, indexes: projection.indexes });
    for (const part of this.#partitions.values()) {
      part.stored = await store.getCheckpoint(part.checkpointId);
      this.#advance(part, part.stored);
    }
    const stopping = new AbortController();
    // One listener per partition loop and per wait; many partitions are not a leak.
    setMaxListeners(0, stopping.signal);
    // Each loop calls bus.consume() before its first await, so every consumer is registered
    // when start() resolves: the in-process bus keeps only what is published after that.
    const loops = [...this.#partitions.values()].map((part) =>
      this.#consume(part, stopping.signal),
    );
    this.#running = { stopping, loops };
    this.#logger.info({ partitions: [...this.#partitions.keys()] }, 'projector started');
  }

  get collection(): string {
    return this.#collection;
  }

  async switchCollection(prepare: () => Promise<string>): Promise<void> {
    if (this.#held !== undefined) throw new Error(`Projector ${this.id} is already switching`);
    let release = (): void => undefined;
    this.#held = new Promise((resolve) => (release = resolve));
    try {
      if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
      this.#drained = undefined;
      const next = await prepare();
      const { projection, store } = this.#options;
      await store.ensureCollection({ name: next, indexes: projection.indexes });
      this.#collection = next;
      this.#logger.info({ collection: next }, 'projector switched collection');
    } finally {
      this.#held = undefined;
      release();
    }
  }

  async stop(): Promise<void> {
    const running = this.#running;
    if (running === undefined) return;
    running.stopping.abort();
    await Promise.all(running.loops);
    await Promise.all([...this.#partitions.values()].map((part) => this.#storeProgress(part)));
    this.#running = undefined;
    this.#logger.info({ progress: this.progress() ?? null }, 'projector stopped');
  }

  progress(): Position | undefined {
    let lowest: Position | undefined;
    let first = true;
    for (const part of this.#partitions.values()) {
      lowest = first ? part.progress : minPosition(lowest, part.progress);
      first = false;
    }
    return lowest;
  }

  partitionProgress(partition: number): Position | undefined {
    return this.#partitions.get(partition)?.progress;
  }

  waitFor(position: Position, options: WaitOptions): Promise<boolean> {
    return this.#waitUntil(() => !isAfter(position, this.progress()), options);
  }

  waitForPartition(partition: number, position: Position, options: WaitOptions): Promise<boolean> {
    if (!this.#partitions.has(partition)) return Promise.resolve(false);
    return this.#waitUntil(() => !isAfter(position, this.partitionProgress(partition)), options);
  }

  async lowestCheckpoint(): Promise<Position | undefined> {
    const { store } = this.#options;
    const ids = [...this.#partitions.values()].map((part) => part.checkpointId);
    const checkpoints = await Promise.all(ids.map((id) => store.getCheckpoint(id)));
    if (checkpoints.includes(undefined)) return undefined;
    return checkpoints.reduce((lowest, position) => minPosition(lowest, position));
  }

  /** Consumes one partition until stopped; a failed batch is retried by not acknowledging it. */
  async #consume(part: PartitionState, stopping: AbortSignal): Promise<void> {
    while (!stopping.aborted) {
      try {
        const deliveries = this.#options.bus.consume({
          consumer: this.id,
          partition: part.partition,
          maxBatch: this.#maxBatch,
          signal: stopping,
        });
        for await (const delivery of deliveries) await this.#handle(part, delivery, stopping);
        return; // Stopped, or the bus was closed.
      } catch (error) {
        await this.#failed(part, error, stopping, 'consuming failed');
      }
    }
  }

  async #handle(part: PartitionState, delivery: Delivery, stopping: AbortSignal): Promise<void> {
    // A held batch waits unacknowledged: the bus slows down rather than losing it.
    while (this.#held !== undefined) await this.#held;
    this.#inFlight++;
    try {
      await this.#apply(part, delivery);
      part.failures = 0;
    } catch (error) {
      // Not acknowledged, so the bus delivers the batch again on the next iteration.
      await this.#failed(part, error, stopping, 'batch failed; it will be retried');
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0) this.#drained?.();
    }
  }

  async #failed(
    part: PartitionState,
    error: unknown,
    stopping: AbortSignal,
    message: string,
  ): Promise<void> {
    part.failures++;
    const delayMs = backoff(part.failures, this.#options.retry);
    this.#logger.error({ err: error, partition: part.partition, delayMs }, message);
    await sleep(delayMs, stopping);
  }

  async #apply(part: PartitionState, delivery: Delivery): Promise<void> {
    const last = delivery.messages.at(-1);
    // A replayed message may be older than the progress already made; never move back.
    const position = last === undefined ? undefined : maxPosition(part.progress, positionOf(last));
    const events = delivery.messages.flatMap((m) => (m.kind === 'event' ? [m.event] : []));
    const targets = foldTargets(
      this.#options.projection,
      events,
      () => part.partition,
      part.progress,
    );
    const collection = this.#collection;
    const changes =
      targets.length === 0
        ? new Map<string, FoldChange<Doc>>()
        : await this.#fold(collection, targets);
    if (position === undefined || changes.size === 0) {
      await delivery.ack();
      this.#advance(part, position);
      await this.#storeProgress(part, this.#checkpointIntervalMs);
      return;
    }
    const ops = toWriteOps(changes);
    await this.#options.store.bulkWrite(collection, ops, { id: part.checkpointId, position });
    part.stored = position;
    part.storedAt = performance.now();
    await delivery.ack();
    this.#advance(part, position);
    await this.#committed(collection, changes, position);
  }

  async #fold(
    collection: string,
    targets: readonly FoldTarget[],
  ): Promise<Map<string, FoldChange<Doc>>> {
    const loaded = await this.#options.store.getMany(collection, targetIds(targets));
    return foldDocuments(this.#options.projection, targets, loaded);
  }

  async #committed(
    collection: string,
    changes: ReadonlyMap<string, FoldChange<Doc>>,
    position: Position,
  ): Promise<void> {
    const { onCommit } = this.#options;
    if (onCommit === undefined) return;
    const documents = new Map<string, StoredDocument | null>();
    for (const [id, change] of changes) {
      documents.set(
        id,
        change.value === null ? null : { id, position: change.position, value: change.value },
      );
    }
    try {
      await onCommit({
        collection,
        ids: [...changes.keys()],
        position,
        documents,
      });
    } catch (error) {
      // The batch is durable; a failing listener must not make it run again.
      this.#logger.warn({ err: error, position }, 'onCommit failed');
    }
  }

  #advance(part: PartitionState, position: Position | undefined): void {
    if (!isAfter(position, part.progress)) return;
    part.progress = position;
    for (const waiter of [...this.#waiters]) waiter();
  }

  /**
   * Watermark-only batches change no document, so their progress lives in memory and is stored
   * at most every `minIntervalMs`: a stale checkpoint only means replaying a little more.
   */
  async #storeProgress(part: PartitionState, minIntervalMs = 0): Promise<void> {
    const position = part.progress;
    if (position === undefined || !isAfter(position, part.stored)) return;
    if (performance.now() - part.storedAt < minIntervalMs) return;
    try {
      await this.#options.store.putCheckpoint({ id: part.checkpointId, position });
      part.stored = position;
      part.storedAt = performance.now();
    } catch (error) {
      this.#logger.warn({ err: error, partition: part.partition }, 'checkpoint not stored');
    }
  }

  #waitUntil(reached: () => boolean, options: WaitOptions): Promise<boolean> {
    if (reached()) return Promise.resolve(true);
    const { signal, timeoutMs } = options;
    return new Promise((resolve) => {
      const finish = (result: boolean): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        signal?.removeEventListener('abort', abort);
        resolve(result);
      };
      const check = (): void => {
        if (reached()) finish(true);
      };
      const abort = (): void => finish(false);
      const timer = setTimeout(abort, timeoutMs);
      this.#waiters.add(check);
      signal?.addEventListener('abort', abort, { once: true });
      if (signal?.aborted === true) abort();
    });
  }
}

function positionOf(message: BusMessage): Position {
  return message.kind === 'event' ? message.event.position : message.position;
}

function ownedPartitions(bus: EventBus, partitions: readonly number[] | undefined): number[] {
  const all = Array.from({ length: bus.partitions }, (_, partition) => partition);
  const owned = [...new Set(partitions ?? all)];
  const outside = owned.filter((partition) => !all.includes(partition));
  if (owned.length === 0 || outside.length > 0) {
    throw new ConfigError('A projector owns at least one partition, each one of the bus', {
      partitions: owned,
      busPartitions: bus.partitions,
    });
  }
  return owned.sort((a, b) => a - b);
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new ConfigError(`Projector option ${name} must be a positive integer`, { [name]: value });
  }
  return value;
}

function backoff(failures: number, retry: ProjectorOptions['retry']): number {
  return backoffDelay(failures, retry?.initialMs ?? 100, retry?.maxMs ?? 10_000);
}
