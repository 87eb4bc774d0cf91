import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BusMessage, EventBus } from '../../src/streams/event-bus.js';
import type { EventStore, Position, RecordedEvent } from '../../src/streams/event-store.js';
import { createInProcessBus } from '../../src/streams/memory/in-process-bus.js';
import { partitionOf } from '../../src/streams/partition.js';
import { comparePositions } from '../../src/streams/position.js';
import { createRelay, type Relay, type RelayOptions } from '../../src/streams/relay.js';
import { createSqliteEventStore } from '../../src/streams/sqlite/sqlite-event-store.js';
import { TestConsumer, eventIds } from '../contract/event-bus.contract.js';

const PARTITIONS = 3;
const STREAMS = ['order-1', 'order-2', 'product-7', 'customer-3', 'order-9', 'order-12'];

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

type Call =
  | Readonly<{ kind: 'events'; events: readonly RecordedEvent[] }>
  | Readonly<{ kind: 'watermark'; position: Position }>;

/** Wraps a bus to record what reaches it and to let a test fail or hold publishes. */
function instrumented(inner: EventBus) {
  const calls: Call[] = [];
  const control = {
    calls,
    failNext: 0,
    delayMs: 0,
    gate: undefined as Promise<void> | undefined,
  };
  const bus: EventBus = {
    partitions: inner.partitions,
    durable: inner.durable,
    async publish(events) {
      await control.gate;
      if (control.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, control.delayMs));
      if (control.failNext > 0) {
        control.failNext--;
        throw new Error('bus unavailable');
      }
      await inner.publish(events);
      calls.push({ kind: 'events', events });
    },
    async publishWatermark(position) {
      await inner.publishWatermark(position);
      calls.push({ kind: 'watermark', position });
    },
    consume: (options) => inner.consume(options),
    close: () => inner.close(),
  };
  return { bus, control };
}

function memoryCheckpoints() {
  const saved = new Map<string, Position>();
  return {
    saved,
    get: (id: string) => Promise.resolve(saved.get(id)),
    put: (id: string, position: Position) => {
      saved.set(id, position);
      return Promise.resolve();
    },
  };
}

async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('Condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const publishedIds = (calls: readonly Call[]): string[] =>
  calls.flatMap((call) => (call.kind === 'events' ? call.events.map((e) => e.id) : []));

describe('relay', () => {
  let store: EventStore;
  let inner: EventBus;
  let bus: EventBus;
  let control: ReturnType<typeof instrumented>['control'];
  let checkpoints: ReturnType<typeof memoryCheckpoints>;
  let relays: Relay[];
  let consumers: TestConsumer[];

  beforeEach(() => {
    store = createSqliteEventStore({ path: ':memory:' });
    inner = createInProcessBus({ partitions: PARTITIONS });
    ({ bus, control } = instrumented(inner));
    checkpoints = memoryCheckpoints();
    relays = [];
    consumers = [];
  });

  afterEach(async () => {
    for (const relay of relays) await relay.stop();
    for (const consumer of consumers) consumer.abort();
    await bus.close();
    await store.close();
  });

  function relay(options: Partial<RelayOptions> = {}): Relay {
    const created = createRelay({
      store,
      bus,
      checkpoints,
      checkpointIntervalMs: 10,
      retry: { initialMs: 5, maxMs: 20 },
      logger: silent,
      ...options,
    });
    relays.push(created);
    return created;
  }

  const consumeAll = (name = 'test') =>
    Array.from({ length: PARTITIONS }, (_, p) => {
      const consumer = new TestConsumer(bus, name, p);
      consumers.push(consumer);
      return consumer;
    });

  async function append(count: number): Promise<RecordedEvent[]> {
    for (let i = 0; i < count; i++) {
      const streamId = STREAMS[i % STREAMS.length] ?? 'order-0';
      await store.append(streamId, [
        {
          id: randomUUID(),
          type: 'Tested',
          data: { i },
          metadata: { occurredAt: '2024-01-01T00:00:00Z' },
        },
      ]);
    }
    return [...(await store.readAll({ maxCount: 100_000 }))];
  }

  /** Every partition's events, in log order, as its consumer received them. */
  async function received(all: readonly TestConsumer[], log: readonly RecordedEvent[]) {
    const perPartition: BusMessage[][] = [];
    for (const [partition, consumer] of all.entries()) {
      const expected = log.filter((e) => partitionOf(e.streamId, PARTITIONS) === partition);
      perPartition.push(await consumer.collect((m) => eventIds(m).length >= expected.length));
      expect(eventIds(perPartition[partition] ?? [])).toEqual(expected.map((e) => e.id));
    }
    return perPartition;
  }

  it('relays the log in order, then follows live appends', async () => {
    const all = consumeAll();
    await append(20);
    await relay().start();
    const log = await append(15);
    await received(all, log);
  });

  it('relays every event when only a few may be in flight', async () => {
    const all = consumeAll();
    const log = await append(40);
    await relay({ maxInFlight: 3 }).start();
    await received(all, log);
  });

  it('saves a checkpoint only for what the bus acknowledged', async () => {
    let release = (): void => undefined;
    control.gate = new Promise((resolve) => (release = resolve));
    const log = await append(5);
    const r = relay();
    await r.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(r.position()).toBeUndefined();
    expect(checkpoints.saved.get('relay')).toBeUndefined();

    release();
    const head = log.at(-1)?.position;
    await eventually(() => checkpoints.saved.get('relay') === head);
    expect(r.position()).toBe(head);
  });

  it('resumes from its checkpoint after a stop, missing nothing and repeating nothing', async () => {
    const all = consumeAll();
    const first = await append(8);
    const before = relay();
    await before.start();
    await received(all, first);
    await before.stop();
    expect(checkpoints.saved.get('relay')).toBe(first.at(-1)?.position);

    const log = await append(7);
    control.calls.length = 0;
    await relay().start();
    await received(all, log.slice(8));
    expect(publishedIds(control.calls)).toEqual(log.slice(8).map((e) => e.id));
  });

  it('starts where it is told to, whatever the checkpoint says', async () => {
    const log = await append(6);
    await checkpoints.put('relay', log.at(-1)?.position ?? '');
    const r = relay();
    await r.start({ after: log[2]?.position ?? '' });
    await eventually(() => publishedIds(control.calls).length === 3);
    expect(publishedIds(control.calls)).toEqual(log.slice(3).map((e) => e.id));
  });

  it('refuses a checkpoint beyond the log head, which belongs to another log', async () => {
    await append(2);
    await checkpoints.put('relay', '00000000000000000099');
    await expect(relay().start()).rejects.toThrow(/beyond the event log's head/);
    expect(control.calls).toEqual([]);
  });

  it('publishes a watermark at the last relayed position once idle, on every partition', async () => {
    const all = consumeAll();
    const log = await append(4);
    await relay({ watermarkIntervalMs: 60_000 }).start();
    const head = log.at(-1)?.position;
    for (const consumer of all) {
      const messages = await consumer.collect((m) =>
        m.some((x) => x.kind === 'watermark' && x.position === head),
      );
      expect(messages.at(-1)).toMatchObject({ kind: 'watermark', position: head });
    }
  });

  it('publishes watermarks during sustained load, never ahead of the events they cover', async () => {
    consumeAll();
    control.delayMs = 1;
    const log = await append(300);
    await relay({ maxInFlight: 5, watermarkIntervalMs: 1 }).start();
    await eventually(() => publishedIds(control.calls).length === log.length);
    const published: Position[] = [];
    let watermarks = 0;
    for (const call of control.calls) {
      if (call.kind === 'events') published.push(...call.events.map((e) => e.position));
      else {
        watermarks++;
        const covered = log.filter((e) => comparePositions(e.position, call.position) <= 0);
        expect(published.slice(0, covered.length)).toEqual(covered.map((e) => e.position));
      }
    }
    expect(watermarks).toBeGreaterThan(1);
  });

  it('retries a failed publish from the last acknowledgement without losing or reordering', async () => {
    const all = consumeAll();
    control.failNext = 3;
    const r = relay({ maxInFlight: 4 });
    await r.start();
    const log = await append(25);
    await received(all, log);
    await eventually(() => r.position() === log.at(-1)?.position);
    expect(control.failNext).toBe(0);
  });

  it('stops promptly while waiting for new events', async () => {
    const r = relay();
    await r.start();
    await append(2);
    await eventually(() => r.position() !== undefined);
    const started = Date.now();
    await r.stop();
    expect(Date.now() - started).toBeLessThan(500);
  });
});
