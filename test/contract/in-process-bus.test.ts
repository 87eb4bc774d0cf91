import { afterEach, describe, expect, it } from 'vitest';
import { ClosedError } from '../../src/errors.js';
import type { EventBus } from '../../src/streams/event-bus.js';
import { createInProcessBus } from '../../src/streams/memory/in-process-bus.js';
import {
  TestConsumer,
  eventBusContract,
  eventIds,
  positionAt,
  streamEvents,
  streamOn,
} from './event-bus.contract.js';

eventBusContract('in-process', () => {
  const bus = createInProcessBus({ partitions: 3 });
  return Promise.resolve({ bus, teardown: () => bus.close() });
});

/** Whether the promise settles within a few turns of the event loop. */
async function settlesSoon(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setTimeout(resolve, 30));
  return settled;
}

describe('in-process bus', () => {
  let bus: EventBus;
  const consumers: TestConsumer[] = [];
  const open = (partition: number, maxBatch?: number): TestConsumer => {
    const consumer = new TestConsumer(bus, `c-${consumers.length}`, partition, maxBatch);
    consumers.push(consumer);
    return consumer;
  };

  afterEach(async () => {
    for (const consumer of consumers.splice(0)) consumer.abort();
    await bus.close();
  });

  it('is not durable', () => {
    bus = createInProcessBus();
    expect(bus.durable).toBe(false);
    expect(bus.partitions).toBe(4);
  });

  it('holds publish back while a consumer lags by capacity, until it acknowledges', async () => {
    bus = createInProcessBus({ partitions: 2, capacity: 3 });
    const consumer = open(1, 2);
    const events = streamEvents(streamOn(1, 2), 5);
    const publishing = bus.publish(events);
    expect(await settlesSoon(publishing)).toBe(false);

    const first = await consumer.next();
    expect(eventIds(first?.messages ?? [])).toEqual(events.slice(0, 2).map((e) => e.id));
    await first?.ack();
    await publishing;
    const rest = await consumer.collect((m) => eventIds(m).length === 3);
    expect(eventIds(rest)).toEqual(events.slice(2).map((e) => e.id));
  });

  it('holds back only publishes to the partition that lags', async () => {
    bus = createInProcessBus({ partitions: 2, capacity: 2 });
    open(0);
    open(1);
    await bus.publish(streamEvents(streamOn(0, 2), 2));
    expect(await settlesSoon(bus.publish(streamEvents(streamOn(1, 2), 2)))).toBe(true);
    expect(await settlesSoon(bus.publish(streamEvents(streamOn(0, 2), 1)))).toBe(false);
  });

  it('keeps nothing for a partition without consumers', async () => {
    bus = createInProcessBus({ partitions: 1, capacity: 2 });
    await bus.publish(streamEvents('order-1', 10));
    const late = open(0);
    const later = streamEvents('order-2', 1);
    await bus.publish(later);
    expect(eventIds((await late.next())?.messages ?? [])).toEqual(later.map((e) => e.id));
  });

  it('lets a lagging consumer see only the newest of consecutive watermarks', async () => {
    bus = createInProcessBus({ partitions: 1 });
    const consumer = open(0);
    await bus.publishWatermark(positionAt(1));
    await bus.publishWatermark(positionAt(2));
    const delivery = await consumer.next();
    expect(delivery?.messages).toEqual([
      { kind: 'watermark', partition: 0, position: positionAt(2) },
    ]);
  });

  it('still delivers a newer watermark to a consumer already handed the older one', async () => {
    bus = createInProcessBus({ partitions: 1 });
    const consumer = open(0);
    await bus.publishWatermark(positionAt(1));
    const first = await consumer.next();
    await bus.publishWatermark(positionAt(2));
    await first?.ack();
    const second = await consumer.next();
    expect(second?.messages).toEqual([
      { kind: 'watermark', partition: 0, position: positionAt(2) },
    ]);
  });

  it('ends every consumer on close and rejects publishes after it', async () => {
    bus = createInProcessBus({ partitions: 2 });
    const waiting = [open(0).next(1_000), open(1).next(1_000)];
    await bus.close();
    await expect(Promise.all(waiting)).resolves.toEqual([undefined, undefined]);
    await expect(bus.publish(streamEvents('order-1', 1))).rejects.toBeInstanceOf(ClosedError);
  });

  it('rejects a publish held back by back-pressure when the bus closes', async () => {
    bus = createInProcessBus({ partitions: 1, capacity: 1 });
    open(0);
    const publishing = bus.publish(streamEvents('order-1', 3));
    await bus.close();
    await expect(publishing).rejects.toBeInstanceOf(ClosedError);
  });

  it('rejects an unknown partition', () => {
    bus = createInProcessBus({ partitions: 2 });
    expect(() => bus.consume({ consumer: 'c', partition: 2 })).toThrow(/outside/);
  });
});
