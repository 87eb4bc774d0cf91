import { randomUUID } from 'node:crypto';
import { connect } from 'nats';
import { afterAll, describe, expect, it } from 'vitest';
import { createNatsBus, type NatsBus } from '../../src/streams/nats/nats-bus.js';
import { createInProcessBus } from '../../src/streams/memory/in-process-bus.js';
import { NATS_URL, requireService } from '../support/services.js';
import {
  TestConsumer,
  eventBusContract,
  eventIds,
  streamEvents,
  streamOn,
} from './event-bus.contract.js';

const ok = await requireService('NATS', NATS_URL, 'the NATS JetStream bus contract');
const run = randomUUID().slice(0, 8);
let streams = 0;

/** A stream of its own per test, deleted afterwards: the shared server outlives the run. */
async function freshBus(partitions = 3): Promise<NatsBus> {
  return createNatsBus({
    url: NATS_URL,
    stream: `sf-test-${run}-${streams++}`,
    partitions,
    pullExpiresMs: 1_000,
  });
}

async function deleteStream(name: string): Promise<void> {
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(name).catch(() => false);
  } finally {
    await nc.close();
  }
}

eventBusContract('in-process (beside NATS)', () => {
  const bus = createInProcessBus({ partitions: 3 });
  return Promise.resolve({ bus, teardown: () => bus.close() });
});

describe.skipIf(!ok)('NATS JetStream bus', () => {
  eventBusContract('NATS JetStream', async () => {
    const bus = await freshBus();
    return {
      bus,
      teardown: async () => {
        await bus.close();
        await deleteStream(bus.stream);
      },
    };
  });

  const opened: NatsBus[] = [];
  async function open(partitions = 2): Promise<NatsBus> {
    const bus = await freshBus(partitions);
    opened.push(bus);
    return bus;
  }
  afterAll(async () => {
    for (const bus of opened) {
      await bus.close();
      await deleteStream(bus.stream);
    }
  });

  it('is durable', async () => {
    const bus = await open();
    expect(bus.durable).toBe(true);
  });

  it('gives a consumer created after the publish everything retained', async () => {
    const bus = await open();
    const events = streamEvents(streamOn(1, 2), 4);
    await bus.publish(events);
    const late = new TestConsumer(bus, 'projector:late:v1', 1);
    const ids = events.map((e) => e.id);
    expect(eventIds(await late.collect((m) => eventIds(m).length >= 4))).toEqual(ids);
    late.abort();
  });

  it('redelivers at once, in order, what a crashed consumer was handed and never acknowledged', async () => {
    const bus = await open();
    const events = streamEvents(streamOn(0, 2), 6);
    await bus.publish(events);
    const crashed = new TestConsumer(bus, 'projector:crash:v1', 0, 4);
    const handed = await crashed.next();
    expect(eventIds(handed?.messages ?? [])).toHaveLength(4);
    crashed.abort(); // Gone without acknowledging, like a process killed mid-batch.

    const started = Date.now();
    const next = new TestConsumer(bus, 'projector:crash:v1', 0, 10);
    const again = await next.collect((m) => eventIds(m).length >= 6);
    expect(eventIds(again)).toEqual(events.map((e) => e.id));
    expect(Date.now() - started).toBeLessThan(10_000); // well before the 30 s ack wait
    next.abort();
  });

  it('keeps one stream per partition in order across many pipelined publishes', async () => {
    const bus = await open(2);
    const streamsOf = [streamOn(0, 2), streamOn(1, 2), streamOn(0, 2)];
    const events = Array.from({ length: 600 }, (_, i) => {
      const streamId = streamsOf[i % 3] as string;
      return streamEvents(streamId, 1).map((e) => ({ ...e, revision: Math.floor(i / 3) }))[0];
    }).filter((e) => e !== undefined);
    await bus.publish(events);
    await bus.publish(events.slice(100, 300)); // a republish after a crash adds nothing
    const consumer = new TestConsumer(bus, 'c-order', 0, 128);
    const expected = events.filter((e) => e.streamId !== streamsOf[1]).map((e) => e.id);
    const got = await consumer.collect((m) => eventIds(m).length >= expected.length);
    expect(eventIds(got)).toEqual(expected);
    consumer.abort();
  });
});
