/**
 * The EventStoreDB adapter: the port's contract against the protocol stand-in (and against a
 * real server when STREAMFOLD_TEST_ESDB_URL is set), then what is particular to this adapter:
 * how vendor errors map onto the catalogue, system events, and losing the server mid-stream.
 */
import { randomUUID } from 'node:crypto';
import { WrongExpectedVersionError } from '@eventstore/db-client';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConflictError, OverloadedError, ValidationError } from '../../src/errors.js';
import type { EventStore, NewEvent, RecordedEvent } from '../../src/streams/event-store.js';
import { createEsdbEventStore } from '../../src/streams/esdb/esdb-event-store.js';
import { decodePosition, encodePosition } from '../../src/streams/esdb/position.js';
import { startEsdbStandIn, type EsdbStandIn } from '../support/esdb-standin/server.js';
import { freePort } from '../support/free-port.js';
import { ESDB_URL, requireService } from '../support/services.js';
import { eventStoreContract } from './event-store.contract.js';

// Every append is a stream read plus a gRPC call through the official client; on a 2-core
// machine shared with the whole suite the property test alone can take well over 30 s.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 60_000 });

let standIn: EsdbStandIn;
beforeAll(async () => {
  standIn = await startEsdbStandIn();
});
afterAll(async () => standIn.stop());

eventStoreContract('EventStoreDB (protocol stand-in)', () => {
  const store = createEsdbEventStore({ url: standIn.url });
  return Promise.resolve({ store, teardown: () => store.close() });
});

// Only when a real server is configured: without one there is nothing to skip loudly.
const realUrl = ESDB_URL;
if (
  realUrl !== undefined &&
  (await requireService('EventStoreDB', realUrl, 'the EventStoreDB contract on a real server'))
) {
  eventStoreContract('EventStoreDB (real server)', () => {
    const store = createEsdbEventStore({ url: realUrl });
    return Promise.resolve({ store, teardown: () => store.close() });
  });
}

function event(data: NewEvent['data'] = {}): NewEvent {
  return { id: randomUUID(), type: 'EsdbTested', data, metadata: { occurredAt: 'now' } };
}

/** Consumes a subscription in the background, keeping the events of `streamIds`. */
function collect(
  store: EventStore,
  streamIds: readonly string[],
  options: { after?: string; batchSize?: number; gate?: () => Promise<void> } = {},
) {
  const controller = new AbortController();
  const events: RecordedEvent[] = [];
  const all: RecordedEvent[] = [];
  const { gate, ...rest } = options;
  const done = (async () => {
    for await (const recorded of store.subscribeToAll({ ...rest, signal: controller.signal })) {
      all.push(recorded);
      if (streamIds.includes(recorded.streamId)) events.push(recorded);
      if (gate !== undefined) await gate();
    }
  })();
  return {
    events,
    all,
    async until(count: number, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (events.length < count) {
        if (Date.now() > deadline) throw new Error(`received ${events.length} of ${count} events`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    stop: async () => {
      controller.abort();
      await done;
    },
  };
}

describe('EventStoreDB adapter', () => {
  const opened: EventStore[] = [];
  const standIns: EsdbStandIn[] = [];
  function open(url = standIn.url): EventStore {
    const store = createEsdbEventStore({ url, retry: { initialMs: 20, maxMs: 200 } });
    opened.push(store);
    return store;
  }
  async function ownStandIn(): Promise<EsdbStandIn> {
    const own = await startEsdbStandIn(await freePort());
    standIns.push(own);
    return own;
  }
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
    await Promise.all(standIns.splice(0).map((own) => own.stop()));
  });

  describe('error mapping', () => {
    it("maps the server's WrongExpectedVersionError to a ConflictError that keeps it as cause", async () => {
      const store = open();
      const streamId = `order-${randomUUID()}`;
      await store.append(streamId, [event(), event()]);

      const error: unknown = await store
        .append(streamId, [event()], { expectedRevision: 'no-stream' })
        .catch((reason: unknown) => reason);

      expect(error).toBeInstanceOf(ConflictError);
      expect(error).toMatchObject({ streamId, expected: 'no-stream', actual: '1' });
      expect((error as ConflictError).cause).toBeInstanceOf(WrongExpectedVersionError);
    });

    it('a writer that loses a race to another client gets a ConflictError', async () => {
      const [first, second] = [open(), open()];
      const streamId = `order-${randomUUID()}`;
      await first.append(streamId, [event()]);

      const outcomes = await Promise.allSettled([
        first.append(streamId, [event()], { expectedRevision: 0 }),
        second.append(streamId, [event()], { expectedRevision: 0 }),
      ]);

      const rejected = outcomes.filter((outcome) => outcome.status === 'rejected');
      expect(rejected).toHaveLength(1);
      expect(rejected[0]?.reason).toBeInstanceOf(ConflictError);
      expect(await first.readStream(streamId)).toHaveLength(2);
    });

    it("maps the server's StreamNotFound to an empty read, in every direction and from any revision", async () => {
      const store = open();
      const streamId = `order-${randomUUID()}`;
      expect(await store.readStream(streamId)).toEqual([]);
      expect(await store.readStream(streamId, { direction: 'backwards' })).toEqual([]);
      expect(await store.readStream(streamId, { fromRevision: 5, maxCount: 2 })).toEqual([]);
    });

    it('maps an unreachable server to OverloadedError, and works again once it is back', async () => {
      const own = await ownStandIn();
      const store = open(own.url);
      const streamId = `order-${randomUUID()}`;
      await store.append(streamId, [event()]);
      await own.stop();

      const error: unknown = await store
        .append(streamId, [event()])
        .catch((reason: unknown) => reason);
      expect(error).toBeInstanceOf(OverloadedError);
      expect((error as Error).cause).toBeInstanceOf(Error);

      await own.restart();
      const result = await eventuallyResolves(() =>
        store.append(streamId, [event()], { expectedRevision: 0 }),
      );
      expect(result.nextExpectedRevision).toBe(1);
    });

    it('refuses event ids that are not UUIDs, as EventStoreDB does, with a ValidationError', async () => {
      const store = open();
      await expect(
        store.append(`order-${randomUUID()}`, [{ ...event(), id: 'not-a-uuid' }]),
      ).rejects.toBeInstanceOf(ValidationError);
    });
  });

  describe('positions', () => {
    it('are commit and prepare as two 20-digit numbers, in log order, up to 64 bits', () => {
      const max = 2n ** 64n - 1n;
      expect(encodePosition({ commit: 1n, prepare: 2n })).toBe(
        '00000000000000000001-00000000000000000002',
      );
      expect(decodePosition(encodePosition({ commit: max, prepare: max }))).toEqual({
        commit: max,
        prepare: max,
      });
      expect(
        encodePosition({ commit: 9n, prepare: 10n }) < encodePosition({ commit: 10n, prepare: 0n }),
      ).toBe(true);
      for (const bad of [
        '',
        '1-2',
        '00000000000000000001',
        '18446744073709551616-00000000000000000000',
      ]) {
        expect(() => decodePosition(bad)).toThrow(ValidationError);
      }
    });
  });

  describe('system events', () => {
    it('are in the server log but never reach readAll, headPosition or subscriptions', async () => {
      const store = open();
      const streamId = `order-${randomUUID()}`;
      await store.append(streamId, [event()]);
      const subscription = collect(store, [streamId]);
      await subscription.until(1);
      await subscription.stop();

      const read = await store.readAll({ maxCount: 100_000 });
      expect(read.length).toBeGreaterThan(0);
      for (const recorded of [...read, ...subscription.all]) {
        expect(recorded.type.startsWith('$') || recorded.streamId.startsWith('$')).toBe(false);
      }
      expect(await store.headPosition()).toBe(read[read.length - 1]?.position);
    });
  });

  describe('connection loss', () => {
    it('a subscription stopped mid-catch-up resumes after a restart with no gap and no duplicate', async () => {
      const own = await ownStandIn();
      const writer = open(own.url);
      const failures: unknown[] = [];
      const reader = createEsdbEventStore({
        url: own.url,
        retry: { initialMs: 20, maxMs: 200 },
        onReconnect: (error) => failures.push(error),
      });
      opened.push(reader);
      const streams = [`order-${randomUUID()}`, `product-${randomUUID()}`];
      const appended: string[] = [];
      async function write(rounds: number) {
        for (let round = 0; round < rounds; round++) {
          for (const streamId of streams) {
            const batch = [event({ round }), event({ round })];
            await writer.append(streamId, batch);
            appended.push(...batch.map((recorded) => recorded.id));
          }
        }
      }
      await write(50);
      // A slow consumer: the subscription is still catching up when the server goes away.
      let slow = true;
      const subscription = collect(reader, streams, {
        batchSize: 8,
        gate: () => (slow ? new Promise((resolve) => setTimeout(resolve, 2)) : Promise.resolve()),
      });
      await subscription.until(40);
      await own.stop();
      const receivedBeforeStop = subscription.events.length;
      await new Promise((resolve) => setTimeout(resolve, 200));
      await own.restart();
      slow = false;
      await eventuallyResolves(() => write(25));

      await subscription.until(appended.length);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await subscription.stop();

      expect(receivedBeforeStop).toBeLessThan(200);
      expect(failures.length).toBeGreaterThan(0);
      expect(subscription.events.map((recorded) => recorded.id)).toEqual(appended);
    });

    it('close() ends a subscription that is waiting for the server to come back', async () => {
      const own = await ownStandIn();
      const store = createEsdbEventStore({ url: own.url, retry: { initialMs: 20, maxMs: 100 } });
      const subscription = collect(store, []);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await own.stop();
      await new Promise((resolve) => setTimeout(resolve, 200));

      await store.close();
      await subscription.stop();
      expect(subscription.events).toEqual([]);
    });
  });
});

/** Retries `action` while the client is still reconnecting to a restarted server. */
async function eventuallyResolves<T>(action: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await action();
    } catch (error) {
      if (!(error instanceof OverloadedError) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
