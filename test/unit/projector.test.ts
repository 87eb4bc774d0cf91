import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Projection } from '../../src/projections/projection.js';
import {
  collectionName,
  createProjector,
  projectorId,
  type CommittedChange,
  type Projector,
  type ProjectorOptions,
} from '../../src/projections/projector.js';
import type { ReadStore } from '../../src/projections/read-store.js';
import { createSqliteReadStore } from '../../src/projections/sqlite/sqlite-read-store.js';
import type { Delivery, EventBus } from '../../src/streams/event-bus.js';
import type { RecordedEvent } from '../../src/streams/event-store.js';
import { createInProcessBus } from '../../src/streams/memory/in-process-bus.js';
import { positionAt, streamOn } from '../contract/event-bus.contract.js';

const PARTITIONS = 3;

type Tally = { streamId: string; count: number; revision: number };

/** Counts each stream's `Counted` events; `Reset` deletes the stream's document. */
const tallyProjection: Projection<Tally> = {
  name: 'stream-tally',
  version: 2,
  handles: ['Counted', 'Reset'],
  indexes: [{ field: 'count' }],
  documentId: (event) => event.streamId,
  evolve: (doc, event) =>
    event.type === 'Reset'
      ? null
      : { streamId: event.streamId, count: (doc?.count ?? 0) + 1, revision: event.revision },
};

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

let position = 0;
const revisions = new Map<string, number>();

function event(streamId: string, type = 'Counted'): RecordedEvent {
  const revision = revisions.get(streamId) ?? 0;
  revisions.set(streamId, revision + 1);
  return {
    id: randomUUID(),
    type,
    streamId,
    revision,
    position: positionAt(++position),
    data: {},
    metadata: { occurredAt: '2024-01-01T00:00:00.000Z' },
  };
}

/** A bus whose consumers' first acknowledgement is lost, as when a process dies right before it. */
function losingFirstAck(inner: EventBus): EventBus {
  let lost = false;
  return {
    partitions: inner.partitions,
    durable: inner.durable,
    publish: (events) => inner.publish(events),
    publishWatermark: (at) => inner.publishWatermark(at),
    close: () => inner.close(),
    consume: (options) => ({
      async *[Symbol.asyncIterator](): AsyncGenerator<Delivery> {
        for await (const delivery of inner.consume(options)) {
          const loseThis = !lost && delivery.messages.some((m) => m.kind === 'event');
          lost ||= loseThis;
          yield loseThis ? { messages: delivery.messages, ack: () => Promise.resolve() } : delivery;
        }
      },
    }),
  };
}

/** A store whose next bulk writes fail before writing anything. */
function failingWrites(inner: ReadStore, failures: { left: number }): ReadStore {
  return new Proxy(inner, {
    get(target, property, receiver) {
      if (property === 'bulkWrite' && failures.left > 0) {
        return () => {
          failures.left--;
          return Promise.reject(new Error('disk full'));
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}

describe('projector', () => {
  let store: ReadStore;
  let bus: EventBus;
  let projectors: Projector[];
  const collection = collectionName(tallyProjection);

  beforeEach(() => {
    store = createSqliteReadStore({ path: ':memory:' });
    bus = createInProcessBus({ partitions: PARTITIONS });
    projectors = [];
  });

  afterEach(async () => {
    for (const projector of projectors) await projector.stop();
    await bus.close();
    await store.close();
  });

  async function started(options: Partial<ProjectorOptions<Tally>> = {}): Promise<Projector> {
    const projector = createProjector({
      projection: tallyProjection,
      bus,
      store,
      logger: silent,
      retry: { initialMs: 5, maxMs: 20 },
      ...options,
    });
    projectors.push(projector);
    await projector.start();
    return projector;
  }

  async function caughtUp(projector: Projector, events: readonly RecordedEvent[]) {
    const last = events.at(-1)?.position ?? positionAt(0);
    await bus.publishWatermark(last);
    expect(await projector.waitFor(last, { timeoutMs: 5_000 })).toBe(true);
  }

  const count = async (streamId: string) => (await store.get(collection, streamId))?.value['count'];

  it('names its collection and durable consumer after the projection version', () => {
    expect(collectionName(tallyProjection)).toBe('stream_tally_v2');
    expect(projectorId(tallyProjection)).toBe('projector:stream-tally:v2');
  });

  it('folds events into documents, each at the position of its last event', async () => {
    const projector = await started();
    const a = [event('order-a'), event('order-a'), event('order-a')];
    const b = [event('order-b'), event('order-b'), event('order-b', 'Reset')];
    const ignored = event('order-a', 'SomethingElse');
    const events = [a[0], b[0], a[1], b[1], ignored, a[2], b[2]] as RecordedEvent[];
    await bus.publish(events);
    await caughtUp(projector, events);

    expect(await store.get(collection, 'order-a')).toEqual({
      id: 'order-a',
      position: a[2]?.position,
      value: { streamId: 'order-a', count: 3, revision: 2 },
    });
    expect(await store.get(collection, 'order-b')).toBeUndefined();
  });

  it('applies a redelivered batch only once', async () => {
    bus = losingFirstAck(bus);
    const projector = await started();
    const events = [event('order-r'), event('order-r'), event('order-s')];
    await bus.publish(events);
    await caughtUp(projector, events);
    expect(await count('order-r')).toBe(2);
    expect(await count('order-s')).toBe(1);
  });

  it('applies a replay of the log only once, even without checkpoints, then what is new', async () => {
    const first = await started();
    const events = [event('order-x'), event('order-y'), event('order-x')];
    await bus.publish(events);
    await caughtUp(first, events);
    await first.stop();
    for (let p = 0; p < PARTITIONS; p++) await store.deleteCheckpoint(`${first.id}:p${p}`);

    await bus.close();
    bus = createInProcessBus({ partitions: PARTITIONS });
    const replaying = await started();
    const replay = [...events, event('order-x')];
    await bus.publish(replay);
    await caughtUp(replaying, replay);
    expect(await count('order-x')).toBe(3);
    expect(await count('order-y')).toBe(1);
  });

  it('reports the lowest progress over its partitions, advanced by watermarks', async () => {
    const projector = await started();
    const only = event(streamOn(1, PARTITIONS));
    await bus.publish([only]);
    expect(await projector.waitForPartition(1, only.position, { timeoutMs: 5_000 })).toBe(true);
    expect(projector.partitionProgress(1)).toBe(only.position);
    expect(projector.progress()).toBeUndefined();

    await bus.publishWatermark(only.position);
    expect(await projector.waitFor(only.position, { timeoutMs: 5_000 })).toBe(true);
    expect(projector.progress()).toBe(only.position);
  });

  it('counts only the partitions it owns', async () => {
    const projector = await started({ partitions: [2] });
    const on2 = event(streamOn(2, PARTITIONS));
    await bus.publish([on2]);
    expect(await projector.waitFor(on2.position, { timeoutMs: 5_000 })).toBe(true);
    expect(projector.partitionProgress(0)).toBeUndefined();
  });

  it('resolves waitFor as soon as it catches up, and false on timeout or abort', async () => {
    const projector = await started();
    const target = event('order-w');
    const waiting = projector.waitFor(target.position, { timeoutMs: 5_000 });
    await bus.publish([target]);
    await bus.publishWatermark(target.position);
    expect(await waiting).toBe(true);

    const later = positionAt(++position);
    expect(await projector.waitFor(later, { timeoutMs: 20 })).toBe(false);
    const controller = new AbortController();
    const aborted = projector.waitFor(later, { timeoutMs: 5_000, signal: controller.signal });
    controller.abort();
    expect(await aborted).toBe(false);
  });

  it('tells onCommit which documents changed, after they are written', async () => {
    const commits: CommittedChange[] = [];
    const seenInStore: unknown[] = [];
    const projector = await started({
      onCommit: async (change) => {
        commits.push(change);
        for (const id of change.ids) seenInStore.push((await store.get(collection, id))?.value);
      },
    });
    const events = [event('order-c'), event('order-d'), event('order-d', 'Reset')];
    await bus.publish(events);
    await caughtUp(projector, events);

    const documents = new Map(commits.flatMap((commit) => [...commit.documents]));
    expect([...new Set(commits.flatMap((commit) => commit.ids))].sort()).toEqual([
      'order-c',
      'order-d',
    ]);
    expect(documents.get('order-c')).toMatchObject({ position: events[0]?.position });
    expect(documents.get('order-d')).toBeNull();
    expect(seenInStore).toContainEqual({ streamId: 'order-c', count: 1, revision: 0 });
  });

  it('resumes from its checkpoints after a restart', async () => {
    const first = await started();
    const before = [event('order-m'), event('order-n')];
    await bus.publish(before);
    await caughtUp(first, before);
    await first.stop();
    const stored = await first.lowestCheckpoint();
    expect(stored).toBe(before.at(-1)?.position);

    const after = [event('order-m'), event('order-n'), event('order-n')];
    await bus.publish(after);
    const second = await started();
    expect(second.progress()).toBe(stored);
    await caughtUp(second, after);
    expect(await count('order-m')).toBe(2);
    expect(await count('order-n')).toBe(3);
    await second.stop();
    expect(await second.lowestCheckpoint()).toBe(after.at(-1)?.position);
  });

  it('has no lowest checkpoint before every partition has one', async () => {
    const projector = await started();
    const one = event(streamOn(0, PARTITIONS));
    await bus.publish([one]);
    await projector.waitForPartition(0, one.position, { timeoutMs: 5_000 });
    expect(await projector.lowestCheckpoint()).toBeUndefined();
  });

  it('retries a batch whose write failed, losing nothing', async () => {
    const failures = { left: 2 };
    store = failingWrites(store, failures);
    const projector = await started();
    const events = [event('order-f'), event('order-g'), event('order-f')];
    await bus.publish(events);
    await caughtUp(projector, events);
    expect(failures.left).toBe(0);
    expect(await count('order-f')).toBe(2);
    expect(await count('order-g')).toBe(1);
  });
});
