/**
 * The relay: tails the whole log from its checkpoint and publishes every event to the bus, in
 * log order, with watermarks so that idle partitions still report progress. It is the only
 * writer to the bus, so nothing on the request path ever publishes (no dual write).
 *
 * Ordering under failure decides the shape. One `publish` call is outstanding at a time, and it
 * carries everything read meanwhile (up to `maxInFlight` events), which the bus pipelines
 * internally. Were several calls in flight, a failed call followed by a successful one would
 * put a stream's later event on the bus before its earlier one, and the projector's position
 * guard would then skip the earlier event for good.
 */
import { backoffDelay, sleep } from '../async.js';
import { ConfigError } from '../errors.js';
import type { EventBus } from './event-bus.js';
import type { EventStore, Position, RecordedEvent } from './event-store.js';
import { isAfter } from './position.js';

export type RelayCheckpoints = Readonly<{
  get(id: string): Promise<Position | undefined>;
  put(id: string, position: Position): Promise<void>;
}>;

/** The part of a pino logger the relay uses. */
export type RelayLogger = Readonly<{
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}>;

export type RelayOptions = Readonly<{
  store: EventStore;
  bus: EventBus;
  checkpoints: RelayCheckpoints;
  /** Checkpoint key. @default 'relay' */
  id?: string;
  /** Most events read from the log and not yet acknowledged by the bus. @default 1000 */
  maxInFlight?: number;
  /** How often the acknowledged position is saved. @default 200 */
  checkpointIntervalMs?: number;
  /** Longest time between watermarks while events keep coming. @default 100 */
  watermarkIntervalMs?: number;
  /** Back-off after a failure: doubles from `initialMs` up to `maxMs`, with jitter. */
  retry?: Readonly<{ initialMs?: number; maxMs?: number }>;
  logger?: RelayLogger;
}>;

export interface Relay {
  /**
   * Starts tailing the log after `from.after` (the start of the log when it is undefined), or
   * after the stored checkpoint when `from` is not given. Resolves once the loop is running.
   */
  start(from?: Readonly<{ after?: Position }>): Promise<void>;
  /**
   * Stops reading, waits for the publish in flight, and saves the final checkpoint. A publish
   * held back by a stalled consumer holds this up too: stop the relay before its consumers.
   */
  stop(): Promise<void>;
  /**
   * The last position the bus has acknowledged, with everything before it; until the first
   * acknowledgement, the position the relay started after.
   */
  position(): Position | undefined;
}

type Settings = Readonly<{
  id: string;
  maxInFlight: number;
  checkpointIntervalMs: number;
  watermarkIntervalMs: number;
  initialRetryMs: number;
  maxRetryMs: number;
}>;

const consoleLogger: RelayLogger = {
  info: () => undefined,
  warn: (fields, message) => console.warn(message, fields),
  error: (fields, message) => console.error(message, fields),
};

export function createRelay(options: RelayOptions): Relay {
  const settings = validate(options);
  const relay = new RelayLoop(options, settings, options.logger ?? consoleLogger);
  let running:
    { stopping: AbortController; loop: Promise<void>; timer: NodeJS.Timeout } | undefined;
  let starting = false;

  return {
    async start(from) {
      if (running !== undefined || starting) {
        throw new Error(`Relay ${settings.id} is already running`);
      }
      starting = true;
      let after: Position | undefined;
      try {
        after = from === undefined ? await options.checkpoints.get(settings.id) : from.after;
        await assertWithinLog(options.store, settings.id, after);
      } finally {
        starting = false;
      }
      relay.reset(after);
      const stopping = new AbortController();
      const timer = setInterval(() => void relay.saveCheckpoint(), settings.checkpointIntervalMs);
      timer.unref();
      running = { stopping, loop: relay.run(stopping.signal), timer };
      relay.logger.info({ after: after ?? null }, 'relay started');
    },

    async stop() {
      const current = running;
      if (current === undefined) return;
      current.stopping.abort();
      await current.loop;
      clearInterval(current.timer);
      await relay.saveCheckpoint();
      running = undefined;
      relay.logger.info({ position: relay.acked ?? null }, 'relay stopped');
    },

    position: () => relay.acked,
  };
}

/**
 * A checkpoint beyond the log's head belongs to another log (a wiped event store, or a bus
 * shared by two deployments): relaying from it would silently skip every event, so refuse.
 */
async function assertWithinLog(store: EventStore, id: string, after: Position | undefined) {
  if (after === undefined) return;
  const head = await store.headPosition();
  if (isAfter(after, head)) {
    throw new ConfigError(
      `Relay checkpoint ${id}=${after} is beyond the event log's head (${head ?? 'empty log'}): the bus holds another log's progress. Give this deployment its own bus stream (?stream= in STREAMFOLD_BUS_URL) or delete the checkpoint.`,
      { checkpoint: after, head: head ?? null },
    );
  }
}

/** Events read from the log but not yet acknowledged, bounded by `maxInFlight`. */
class Window {
  readonly pending: RecordedEvent[] = [];
  inFlight = 0;
  ended = false;
  failure: { error: unknown } | undefined;
  readonly arrived = new Wakeup();
  readonly freed = new Wakeup();

  constructor(private readonly limit: number) {}

  get full(): boolean {
    return this.pending.length + this.inFlight >= this.limit;
  }
}

class RelayLoop {
  /** The last position the bus acknowledged, with everything before it. */
  acked: Position | undefined;
  #saved: Position | undefined;
  #watermarked: Position | undefined;
  #lastWatermarkAt = 0;
  #failures = 0;
  #saving: Promise<void> = Promise.resolve();
  readonly #store: EventStore;
  readonly #bus: EventBus;
  readonly #checkpoints: RelayCheckpoints;

  constructor(
    options: RelayOptions,
    private readonly settings: Settings,
    readonly logger: RelayLogger,
  ) {
    this.#store = options.store;
    this.#bus = options.bus;
    this.#checkpoints = options.checkpoints;
  }

  reset(after: Position | undefined): void {
    this.acked = this.#saved = after;
    this.#watermarked = undefined;
    this.#lastWatermarkAt = performance.now();
    this.#failures = 0;
  }

  /** Sessions until stopped; after a failure, back off and resume from the last acknowledgement. */
  async run(stopping: AbortSignal): Promise<void> {
    while (!stopping.aborted) {
      try {
        await this.#session(stopping);
      } catch (error) {
        this.#failures++;
        const delayMs = backoff(this.#failures, this.settings);
        this.logger.warn(
          { err: error, after: this.acked ?? null, delayMs },
          'relay failed; resuming from the last acknowledged position',
        );
        await sleep(delayMs, stopping);
      }
    }
  }

  /** Saves run one after another, so a slow older save never overwrites a newer one. */
  saveCheckpoint(): Promise<void> {
    this.#saving = this.#saving.then(async () => {
      const position = this.acked;
      if (position === undefined || !isAfter(position, this.#saved)) return;
      try {
        await this.#checkpoints.put(this.settings.id, position);
        this.#saved = position;
      } catch (error) {
        this.logger.error({ err: error, position }, 'relay checkpoint not saved; will retry');
      }
    });
    return this.#saving;
  }

  /** One subscription from the last acknowledged position; throws on any failure. */
  async #session(stopping: AbortSignal): Promise<void> {
    const reading = new AbortController();
    const stopReading = (): void => reading.abort();
    stopping.addEventListener('abort', stopReading, { once: true });
    const window = new Window(this.settings.maxInFlight);
    const reader = this.#readInto(window, reading.signal);
    try {
      await this.#publishFrom(window, stopping);
    } finally {
      reading.abort();
      stopping.removeEventListener('abort', stopReading);
      await reader;
    }
  }

  /** Pulls from the log only while the window has room: a slow bus slows the reading. */
  async #readInto(window: Window, signal: AbortSignal): Promise<void> {
    try {
      const after = this.acked;
      const events = this.#store.subscribeToAll({
        ...(after === undefined ? {} : { after }),
        signal,
        batchSize: Math.min(500, this.settings.maxInFlight),
      });
      for await (const event of events) {
        window.pending.push(event);
        window.arrived.notify();
        while (window.full && !signal.aborted) await window.freed.wait([signal]);
        if (signal.aborted) break;
      }
    } catch (error) {
      window.failure = { error };
    } finally {
      window.ended = true;
      window.arrived.notify();
    }
  }

  async #publishFrom(window: Window, stopping: AbortSignal): Promise<void> {
    while (!stopping.aborted) {
      if (window.failure !== undefined) throw window.failure.error;
      if (window.pending.length === 0) {
        if (window.ended) return;
        await this.#whenIdle(window, stopping);
        continue;
      }
      if (performance.now() - this.#lastWatermarkAt >= this.settings.watermarkIntervalMs) {
        await this.#publishWatermark();
      }
      const batch = window.pending.splice(0, this.settings.maxInFlight);
      window.inFlight = batch.length;
      await this.#bus.publish(batch);
      window.inFlight = 0;
      window.freed.notify();
      this.acked = batch.at(-1)?.position ?? this.acked;
      this.#failures = 0;
    }
  }

  /**
   * Gives the reader a turn first, so that events already available join the next batch; only
   * when none came is the relay idle, and then it publishes a watermark before it waits.
   */
  async #whenIdle(window: Window, stopping: AbortSignal): Promise<void> {
    await nextTurn();
    if (window.pending.length > 0 || window.ended) return;
    await this.#publishWatermark();
    if (window.pending.length > 0 || window.ended) return;
    await window.arrived.wait([stopping]);
    await nextTurn();
  }

  /** Only ever at an acknowledged position, so it lands behind those events on every partition. */
  async #publishWatermark(): Promise<void> {
    this.#lastWatermarkAt = performance.now();
    const position = this.acked;
    if (position === undefined || !isAfter(position, this.#watermarked)) return;
    await this.#bus.publishWatermark(position);
    this.#watermarked = position;
  }
}

/** Sleeping without polling: waiters are resolved by whoever changes the state they wait on. */
class Wakeup {
  readonly #waiters = new Set<() => void>();

  wait(signals: readonly AbortSignal[]): Promise<void> {
    return new Promise((resolve) => {
      if (signals.some((signal) => signal.aborted)) return resolve();
      const done = (): void => {
        this.#waiters.delete(done);
        for (const signal of signals) signal.removeEventListener('abort', done);
        resolve();
      };
      this.#waiters.add(done);
      for (const signal of signals) signal.addEventListener('abort', done, { once: true });
    });
  }

  notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function backoff(failures: number, settings: Settings): number {
  return backoffDelay(failures, settings.initialRetryMs, settings.maxRetryMs);
}

function validate(options: RelayOptions): Settings {
  const settings = Object.freeze({
    id: options.id ?? 'relay',
    maxInFlight: options.maxInFlight ?? 1000,
    checkpointIntervalMs: options.checkpointIntervalMs ?? 200,
    watermarkIntervalMs: options.watermarkIntervalMs ?? 100,
    initialRetryMs: options.retry?.initialMs ?? 100,
    maxRetryMs: options.retry?.maxMs ?? 10_000,
  });
  for (const [name, value] of Object.entries(settings)) {
    if (name === 'id') continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw new ConfigError(`Relay option ${name} must be a positive integer`, { [name]: value });
    }
  }
  if (settings.id === '') throw new ConfigError('Relay id must not be empty');
  return settings;
}
