/**
 * The EventBus contract: every adapter (in-process, NATS JetStream) runs these assertions.
 * It uses only the port. A consumer is opened before anything is published to it: the
 * in-process bus keeps only what is published after a consumer's `consume()` call, and a
 * durable adapter must at least do that much.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BusMessage, Delivery, EventBus } from '../../src/streams/event-bus.js';
import type { RecordedEvent } from '../../src/streams/event-store.js';
import { partitionOf } from '../../src/streams/partition.js';

export type EventBusFixture = Readonly<{ bus: EventBus; teardown(): Promise<void> }>;

const WAIT_MS = 5_000;

let nextPosition = 1;

/** Positions are fixed-width strings, so string order is log order. */
export function positionAt(n: number): string {
  return String(n).padStart(16, '0');
}

export function recordedEvent(streamId: string, revision: number): RecordedEvent {
  return {
    id: randomUUID(),
    type: 'Tested',
    streamId,
    revision,
    position: positionAt(nextPosition++),
    data: { revision },
    metadata: { occurredAt: '2024-01-01T00:00:00.000Z' },
  };
}

/** A stream id that lands on `partition`, so tests can target one partition. */
export function streamOn(partition: number, partitions: number, prefix = 'test'): string {
  for (let i = 0; ; i++) {
    const streamId = `${prefix}-${i}-${randomUUID().slice(0, 8)}`;
    if (partitionOf(streamId, partitions) === partition) return streamId;
  }
}

/** Events of one stream, revisions 0..count-1. */
export function streamEvents(streamId: string, count: number): RecordedEvent[] {
  return Array.from({ length: count }, (_, revision) => recordedEvent(streamId, revision));
}

/** A consumer opened now, read delivery by delivery with a deadline on each. */
export class TestConsumer {
  readonly #controller = new AbortController();
  readonly #iterator: AsyncIterator<Delivery>;

  constructor(bus: EventBus, consumer: string, partition: number, maxBatch?: number) {
    const iterable = bus.consume({
      consumer,
      partition,
      signal: this.#controller.signal,
      ...(maxBatch === undefined ? {} : { maxBatch }),
    });
    this.#iterator = iterable[Symbol.asyncIterator]();
  }

  /** The next delivery, or undefined when the iteration ended. Fails the test on a timeout. */
  async next(timeoutMs = WAIT_MS): Promise<Delivery | undefined> {
    const result = await withTimeout(this.#iterator.next(), timeoutMs, 'delivery');
    return result.done === true ? undefined : result.value;
  }

  /** Reads and acknowledges deliveries until `done` holds for the messages so far. */
  async collect(done: (messages: readonly BusMessage[]) => boolean): Promise<BusMessage[]> {
    const messages: BusMessage[] = [];
    while (!done(messages)) {
      const delivery = await this.next();
      if (delivery === undefined) throw new Error('The consumer ended early');
      messages.push(...delivery.messages);
      await delivery.ack();
    }
    return messages;
  }

  async close(): Promise<void> {
    await this.#iterator.return?.();
  }

  abort(): void {
    this.#controller.abort();
  }
}

export function eventIds(messages: readonly BusMessage[]): string[] {
  return messages.flatMap((message) => (message.kind === 'event' ? [message.event.id] : []));
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`No ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const hasIds =
  (ids: readonly string[]) =>
  (messages: readonly BusMessage[]): boolean =>
    ids.every((id) => eventIds(messages).includes(id));

export function eventBusContract(name: string, factory: () => Promise<EventBusFixture>): void {
  describe(`EventBus contract: ${name}`, () => {
    let fixture: EventBusFixture;
    let bus: EventBus;
    let consumers: TestConsumer[];

    /** Unique names keep tests apart even on a bus that outlives one test. */
    const open = (partition: number, maxBatch?: number, consumer = `c-${randomUUID()}`) => {
      const opened = new TestConsumer(bus, consumer, partition, maxBatch);
      consumers.push(opened);
      return opened;
    };

    beforeEach(async () => {
      fixture = await factory();
      bus = fixture.bus;
      consumers = [];
    });

    afterEach(async () => {
      for (const consumer of consumers) consumer.abort();
      await fixture.teardown();
    });

    it('delivers each event on its stream partition, in publish order per stream', async () => {
      const all = Array.from({ length: bus.partitions }, (_, p) => open(p));
      const streams = ['order-a', 'order-b', 'product-c', 'customer-d', 'order-e'];
      const published: RecordedEvent[] = [];
      for (let round = 0; round < 3; round++) {
        const batch = streams.map((streamId) => recordedEvent(streamId, round));
        await bus.publish(batch);
        published.push(...batch);
      }
      for (const [partition, consumer] of all.entries()) {
        const expected = published.filter(
          (e) => partitionOf(e.streamId, bus.partitions) === partition,
        );
        const messages = await consumer.collect(hasIds(expected.map((e) => e.id)));
        expect(messages.every((message) => message.partition === partition)).toBe(true);
        expect(eventIds(messages)).toEqual(expected.map((e) => e.id));
      }
    });

    it('gives every consumer of a partition every message', async () => {
      const streamId = streamOn(0, bus.partitions);
      const first = open(0);
      const second = open(0);
      const events = streamEvents(streamId, 5);
      await bus.publish(events);
      const ids = events.map((e) => e.id);
      expect(eventIds(await first.collect(hasIds(ids)))).toEqual(ids);
      expect(eventIds(await second.collect(hasIds(ids)))).toEqual(ids);
    });

    it('delivers an unacknowledged batch again', async () => {
      const consumer = open(0);
      const events = streamEvents(streamOn(0, bus.partitions), 3);
      await bus.publish(events);
      const first = await consumer.next();
      const firstIds = eventIds(first?.messages ?? []);
      expect(firstIds.length).toBeGreaterThan(0);
      const again = await consumer.next();
      expect(eventIds(again?.messages ?? []).slice(0, firstIds.length)).toEqual(firstIds);
    });

    it('resumes a restarted consumer after its last acknowledgement', async () => {
      const name = `c-${randomUUID()}`;
      const before = open(0, 2, name);
      const events = streamEvents(streamOn(0, bus.partitions), 6);
      await bus.publish(events);
      const acked = await before.collect((messages) => eventIds(messages).length >= 2);
      const unacked = await before.next();
      expect(unacked?.messages.length).toBeGreaterThan(0);
      await before.close();

      const after = open(0, 2, name);
      const ackedIds = eventIds(acked);
      const rest = events.map((e) => e.id).filter((id) => !ackedIds.includes(id));
      expect(eventIds(await after.collect(hasIds(rest)))).toEqual(rest);
    });

    it('does not deliver a republished event id twice', async () => {
      const consumer = open(0);
      const streamId = streamOn(0, bus.partitions);
      const [a, b, c] = streamEvents(streamId, 3) as [RecordedEvent, RecordedEvent, RecordedEvent];
      await bus.publish([a, b]);
      await bus.publish([a, b]);
      await bus.publish([b, c]);
      const messages = await consumer.collect(hasIds([c.id]));
      expect(eventIds(messages)).toEqual([a.id, b.id, c.id]);
    });

    it('sends a watermark to every partition', async () => {
      const all = Array.from({ length: bus.partitions }, (_, p) => open(p));
      const position = positionAt(nextPosition++);
      await bus.publishWatermark(position);
      for (const [partition, consumer] of all.entries()) {
        const messages = await consumer.collect((m) => m.some((x) => x.kind === 'watermark'));
        expect(messages).toContainEqual({ kind: 'watermark', partition, position });
      }
    });

    it('ends a waiting consumer promptly when its signal aborts', async () => {
      const consumer = open(0);
      const waiting = consumer.next(1_000);
      await new Promise((resolve) => setTimeout(resolve, 20));
      consumer.abort();
      await expect(waiting).resolves.toBeUndefined();
    });

    it('respects maxBatch', async () => {
      const consumer = open(0, 3);
      const events = streamEvents(streamOn(0, bus.partitions), 10);
      await bus.publish(events);
      const sizes: number[] = [];
      const seen: string[] = [];
      while (seen.length < events.length) {
        const delivery = await consumer.next();
        sizes.push(delivery?.messages.length ?? 0);
        seen.push(...eventIds(delivery?.messages ?? []));
        await delivery?.ack();
      }
      expect(Math.max(...sizes)).toBeLessThanOrEqual(3);
      expect(seen).toEqual(events.map((e) => e.id));
    });
  });
}
