/**
 * The foundation's pipeline with EventStoreDB (the protocol stand-in) as the log: the relay
 * over the ESDB adapter, through a server crash, and the whole HTTP checkout scenario.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OverloadedError } from '../../src/errors.js';
import type { EventBus } from '../../src/streams/event-bus.js';
import type { EventStore, NewEvent, Position } from '../../src/streams/event-store.js';
import { createEsdbEventStore } from '../../src/streams/esdb/esdb-event-store.js';
import { createInProcessBus } from '../../src/streams/memory/in-process-bus.js';
import { createRelay, type Relay } from '../../src/streams/relay.js';
import { checkoutScenario } from '../support/checkout-scenario.js';
import { startEmbedded } from '../support/embedded.js';
import { startEsdbStandIn, type EsdbStandIn } from '../support/esdb-standin/server.js';
import { freePort } from '../support/free-port.js';

// Every append is a stream read plus a gRPC call through the official client; on a 2-core
// machine shared with the whole suite the property test alone can take well over 30 s.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 60_000 });

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

checkoutScenario('EventStoreDB log (stand-in), in-process bus, SQLite read store', async () => {
  const standIn = await startEsdbStandIn();
  const embedded = await startEmbedded({ STREAMFOLD_EVENTSTORE_URL: standIn.url });
  return {
    url: embedded.url,
    async stop() {
      await embedded.stop();
      await standIn.stop();
    },
  };
});

/** The in-process bus, recording the ids of every event published, in order. */
function recordingBus(partitions: number): { bus: EventBus; published: string[] } {
  const inner = createInProcessBus({ partitions });
  const published: string[] = [];
  const bus: EventBus = {
    partitions: inner.partitions,
    durable: inner.durable,
    async publish(events) {
      await inner.publish(events);
      published.push(...events.map((event) => event.id));
    },
    publishWatermark: (position) => inner.publishWatermark(position),
    consume: (options) => inner.consume(options),
    close: () => inner.close(),
  };
  return { bus, published };
}

function memoryCheckpoints() {
  const saved = new Map<string, Position>();
  return {
    get: (id: string) => Promise.resolve(saved.get(id)),
    put: (id: string, position: Position) => {
      saved.set(id, position);
      return Promise.resolve();
    },
  };
}

function event(n: number): NewEvent {
  return { id: randomUUID(), type: 'RelayTested', data: { n }, metadata: { occurredAt: 'now' } };
}

async function eventually(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('Condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('relay over the EventStoreDB adapter', () => {
  let standIn: EsdbStandIn | undefined;
  let relay: Relay | undefined;
  const stores: EventStore[] = [];

  afterEach(async () => {
    await relay?.stop();
    await Promise.all(stores.splice(0).map((store) => store.close()));
    await standIn?.stop();
  });

  it('publishes every event once, in log order, across a crash and restart of the server', async () => {
    standIn = await startEsdbStandIn(await freePort());
    const options = { url: standIn.url, retry: { initialMs: 20, maxMs: 200 } };
    const [writer, reader] = [createEsdbEventStore(options), createEsdbEventStore(options)];
    stores.push(writer, reader);
    const { bus, published } = recordingBus(3);
    relay = createRelay({ store: reader, bus, checkpoints: memoryCheckpoints(), logger: silent });
    const appended: string[] = [];
    const streams = ['order-1', 'order-2', 'product-7', 'customer-3'];
    async function write(from: number, count: number) {
      for (let n = from; n < from + count; n++) {
        const batch = [event(n), event(n)];
        await writer.append(streams[n % streams.length] ?? 'order-0', batch);
        appended.push(...batch.map((recorded) => recorded.id));
      }
    }

    await write(0, 100);
    await relay.start();
    await eventually(() => published.length >= 50);
    await standIn.stop();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await standIn.restart();
    await retryWhileUnreachable(() => write(100, 50));
    await eventually(() => published.length >= appended.length);
    await new Promise((resolve) => setTimeout(resolve, 200));

    expect(published).toEqual(appended);
    const log = await reader.readAll({ maxCount: 10_000 });
    expect(relay.position()).toBe(log[log.length - 1]?.position);
  });
});

async function retryWhileUnreachable(action: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await action();
    } catch (error) {
      if (!(error instanceof OverloadedError) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
