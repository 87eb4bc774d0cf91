/**
 * The EventStore contract: every adapter runs these assertions unchanged. The suite only uses
 * the port, and it never assumes an empty log, since a real server may be shared between
 * tests: each test writes to streams of its own and reads the log from the head it found.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClosedError, ConflictError, ErrorCodes, ValidationError } from '../../src/errors.js';
import type {
  AppendResult,
  EventStore,
  ExpectedRevision,
  NewEvent,
  Position,
  RecordedEvent,
  SubscribeOptions,
} from '../../src/streams/event-store.js';
import { comparePositions } from '../../src/streams/position.js';

export type EventStoreFactory = () => Promise<{
  store: EventStore;
  teardown: () => Promise<void>;
}>;

const OCCURRED_AT = '2024-05-01T12:00:00.000Z';
const DELIVERY_TIMEOUT_MS = 5_000;

function newEvent(data: NewEvent['data'] = {}, type = 'ContractTested'): NewEvent {
  return { id: randomUUID(), type, data, metadata: { occurredAt: OCCURRED_AT } };
}

function newEvents(count: number, type?: string): NewEvent[] {
  return Array.from({ length: count }, (_, index) => newEvent({ index }, type));
}

function newStreamId(category = 'contract'): string {
  return `${category}-${randomUUID()}`;
}

async function expectConflict(
  append: Promise<AppendResult>,
  expected: Readonly<{ streamId: string; expected: string; actual: string }>,
): Promise<void> {
  const error: unknown = await append.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ConflictError);
  expect(error).toMatchObject({ code: ErrorCodes.CONFLICT, ...expected });
}

/** Every event of the log after `after`, paging with `maxCount`. */
async function readLog(store: EventStore, after: Position | undefined, maxCount = 1000) {
  const pages: (readonly RecordedEvent[])[] = [];
  let cursor = after;
  for (;;) {
    const page = await store.readAll(
      cursor === undefined ? { maxCount } : { after: cursor, maxCount },
    );
    if (page.length === 0) return pages;
    pages.push(page);
    cursor = page[page.length - 1]?.position;
  }
}

function expectStrictlyIncreasing(positions: readonly Position[]): void {
  positions.slice(1).forEach((position, index) => {
    expect(comparePositions(positions[index], position)).toBe(-1);
  });
}

type Subscriber = Readonly<{
  /** The kept events, in delivery order. */
  events: RecordedEvent[];
  waitFor(count: number): Promise<void>;
  abort(): void;
  /** Settles when the iteration has ended. */
  done: Promise<void>;
}>;

/** Consumes a subscription in the background, keeping the events that `keep` accepts. */
function subscribe(
  store: EventStore,
  keep: (event: RecordedEvent) => boolean,
  options: Omit<SubscribeOptions, 'signal'> = {},
): Subscriber {
  const controller = new AbortController();
  const events: RecordedEvent[] = [];
  let wake = (): void => undefined;
  let ended = false;
  const done = (async () => {
    try {
      for await (const event of store.subscribeToAll({ ...options, signal: controller.signal })) {
        if (keep(event)) events.push(event);
        wake();
      }
    } finally {
      ended = true;
      wake();
    }
  })();
  async function waitFor(count: number): Promise<void> {
    const deadline = Date.now() + DELIVERY_TIMEOUT_MS;
    while (events.length < count) {
      if (ended) {
        // Surfaces the subscription's own error, if it failed, rather than a timeout.
        await done;
        throw new Error(`The subscription ended after ${events.length} of ${count} events`);
      }
      if (Date.now() > deadline) {
        throw new Error(`The subscription delivered ${events.length} of ${count} events`);
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 20);
      });
    }
  }
  return { events, waitFor, abort: () => controller.abort(), done };
}

/** Resolves with `true` when `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = promise.then(
    () => true as const,
    () => true as const,
  );
  const result = await Promise.race([settled, timeout]);
  clearTimeout(timer);
  return result;
}

export function eventStoreContract(name: string, factory: EventStoreFactory): void {
  describe(`EventStore contract: ${name}`, () => {
    let store: EventStore;
    let teardown: () => Promise<void>;

    beforeEach(async () => {
      ({ store, teardown } = await factory());
    });

    afterEach(async () => {
      await teardown();
    });

    describe('append and readStream', () => {
      it('reads back appended events in order, with revisions from 0 and their positions', async () => {
        const streamId = newStreamId();
        const events = newEvents(3);
        const result = await store.append(streamId, events);

        const read = await store.readStream(streamId);

        expect(read.map((event) => event.id)).toEqual(events.map((event) => event.id));
        expect(read.map((event) => event.revision)).toEqual([0, 1, 2]);
        expect(read.every((event) => event.streamId === streamId)).toBe(true);
        expectStrictlyIncreasing(read.map((event) => event.position));
        expect(result).toEqual({ nextExpectedRevision: 2, position: read[2]?.position });
      });

      it('continues the revisions of a stream across appends', async () => {
        const streamId = newStreamId();
        await store.append(streamId, newEvents(2));
        const result = await store.append(streamId, newEvents(2));

        const read = await store.readStream(streamId);

        expect(result.nextExpectedRevision).toBe(3);
        expect(read.map((event) => event.revision)).toEqual([0, 1, 2, 3]);
      });

      it('round-trips ids, types, data and metadata exactly', async () => {
        const streamId = newStreamId();
        const event: NewEvent = {
          id: randomUUID(),
          type: 'OrderPlaced',
          data: {
            orderId: 'o-1',
            lines: [{ sku: 'ß-ü-✓-😀', quantity: 3, price: 19.99 }],
            total: -0.5,
            big: Number.MAX_SAFE_INTEGER,
            flags: { gift: true, express: false, note: null, empty: '' },
            nested: { deeper: { deepest: [[], {}, [1, 'two', null]] } },
          },
          metadata: {
            occurredAt: OCCURRED_AT,
            correlationId: randomUUID(),
            causationId: randomUUID(),
            schemaVersion: 2,
            tenant: 'acme',
            tags: ['a', 'b'],
          },
        };
        const head = await store.headPosition();
        const result = await store.append(streamId, [event]);

        const [fromStream] = await store.readStream(streamId);
        const fromLog = (await readLog(store, head)).flat().find((e) => e.id === event.id);

        const expected = { ...event, streamId, revision: 0, position: result.position };
        expect(fromStream).toEqual(expected);
        expect(fromLog).toEqual(expected);
      });

      it('reads a missing stream as empty', async () => {
        expect(await store.readStream(newStreamId())).toEqual([]);
        expect(await store.readStream(newStreamId(), { direction: 'backwards' })).toEqual([]);
      });

      it('reads backwards from the last revision', async () => {
        const streamId = newStreamId();
        await store.append(streamId, newEvents(4));

        const read = await store.readStream(streamId, { direction: 'backwards' });

        expect(read.map((event) => event.revision)).toEqual([3, 2, 1, 0]);
      });

      it('reads from a revision, inclusive, in either direction', async () => {
        const streamId = newStreamId();
        await store.append(streamId, newEvents(5));

        const forwards = await store.readStream(streamId, { fromRevision: 2 });
        const backwards = await store.readStream(streamId, {
          direction: 'backwards',
          fromRevision: 2,
        });

        expect(forwards.map((event) => event.revision)).toEqual([2, 3, 4]);
        expect(backwards.map((event) => event.revision)).toEqual([2, 1, 0]);
      });

      it('reads at most maxCount events', async () => {
        const streamId = newStreamId();
        await store.append(streamId, newEvents(5));

        const forwards = await store.readStream(streamId, { fromRevision: 1, maxCount: 2 });
        const backwards = await store.readStream(streamId, {
          direction: 'backwards',
          maxCount: 2,
        });

        expect(forwards.map((event) => event.revision)).toEqual([1, 2]);
        expect(backwards.map((event) => event.revision)).toEqual([4, 3]);
      });

      it('rejects an append without events with a ValidationError', async () => {
        await expect(store.append(newStreamId(), [])).rejects.toBeInstanceOf(ValidationError);
      });
    });

    describe('expected revision', () => {
      it('"any" appends to a new and to an existing stream', async () => {
        const streamId = newStreamId();
        await store.append(streamId, newEvents(1), { expectedRevision: 'any' });
        const result = await store.append(streamId, newEvents(1), { expectedRevision: 'any' });
        expect(result.nextExpectedRevision).toBe(1);
      });

      it('"no-stream" appends to a new stream', async () => {
        const result = await store.append(newStreamId(), newEvents(2), {
          expectedRevision: 'no-stream',
        });
        expect(result.nextExpectedRevision).toBe(1);
      });

      it('"no-stream" conflicts with an existing stream and appends nothing', async () => {
        const streamId = newStreamId();
        await store.append(streamId, newEvents(1));

        const append = store.append(streamId, newEvents(1), { expectedRevision: 'no-stream' });

        await expectConflict(append, { streamId, expected: 'no-stream', actual: '0' });
        expect(await store.readStream(streamId)).toHaveLength(1);
      });

      it('"stream-exists" appends to an existing stream', async () => {
        const streamId = newStreamId();
        await store.append(streamId, newEvents(1));
        const result = await store.append(streamId, newEvents(1), {
          expectedRevision: 'stream-exists',
        });
        expect(result.nextExpectedRevision).toBe(1);
      });

      it('"stream-exists" conflicts with a missing stream and creates nothing', async () => {
        const streamId = newStreamId();

        const append = store.append(streamId, newEvents(1), { expectedRevision: 'stream-exists' });

        await expectConflict(append, { streamId, expected: 'stream-exists', actual: 'no-stream' });
        expect(await store.readStream(streamId)).toEqual([]);
      });

      it('an exact revision appends when it is the last revision of the stream', async () => {
        const streamId = newStreamId();
        await store.append(streamId, newEvents(2));
        const result = await store.append(streamId, newEvents(1), { expectedRevision: 1 });
        expect(result.nextExpectedRevision).toBe(2);
      });

      it('a stale exact revision conflicts and appends nothing', async () => {
        const streamId = newStreamId();
        await store.append(streamId, newEvents(2));

        const append = store.append(streamId, newEvents(1), { expectedRevision: 0 });

        await expectConflict(append, { streamId, expected: '0', actual: '1' });
        expect(await store.readStream(streamId)).toHaveLength(2);
      });

      it('an exact revision conflicts with a missing stream', async () => {
        const streamId = newStreamId();
        const append = store.append(streamId, newEvents(1), { expectedRevision: 0 });
        await expectConflict(append, { streamId, expected: '0', actual: 'no-stream' });
      });
    });

    describe('idempotent appends', () => {
      it('re-appending the same events returns the original result and duplicates nothing', async () => {
        const streamId = newStreamId();
        const events = newEvents(2);
        const original = await store.append(streamId, events, { expectedRevision: 'no-stream' });
        await store.append(streamId, newEvents(1));

        const retried = await store.append(streamId, events, { expectedRevision: 'no-stream' });
        const retriedAny = await store.append(streamId, events);

        expect(retried).toEqual(original);
        expect(retriedAny).toEqual(original);
        expect(await store.readStream(streamId)).toHaveLength(3);
      });

      it('re-appending a consecutive run of appended events returns the result of its last', async () => {
        const streamId = newStreamId();
        const events = newEvents(3);
        await store.append(streamId, events);
        const [, second] = await store.readStream(streamId);

        const retried = await store.append(streamId, events.slice(0, 2), { expectedRevision: 7 });

        expect(retried).toEqual({ nextExpectedRevision: 1, position: second?.position });
        expect(await store.readStream(streamId)).toHaveLength(3);
      });

      it.each([
        ['an appended event followed by a new one', (old: NewEvent) => [old, newEvent()]],
        ['a new event followed by an appended one', (old: NewEvent) => [newEvent(), old]],
      ])('%s conflicts and appends nothing', async (_, mix) => {
        const streamId = newStreamId();
        const [first, second] = newEvents(2);
        if (first === undefined || second === undefined) throw new Error('two events expected');
        await store.append(streamId, [first, second]);

        const append = store.append(streamId, mix(second));

        await expectConflict(append, { streamId, expected: 'any', actual: '1' });
        expect(await store.readStream(streamId)).toHaveLength(2);
      });

      it('re-appending appended events in another order conflicts', async () => {
        const streamId = newStreamId();
        const events = newEvents(2);
        await store.append(streamId, events);

        const append = store.append(streamId, [...events].reverse());

        await expect(append).rejects.toBeInstanceOf(ConflictError);
        expect(await store.readStream(streamId)).toHaveLength(2);
      });

      it('the same event id may be used in two different streams', async () => {
        const event = newEvent();
        const first = newStreamId();
        const second = newStreamId();
        await store.append(first, [event]);
        await store.append(second, [event]);
        expect(await store.readStream(first)).toHaveLength(1);
        expect(await store.readStream(second)).toHaveLength(1);
      });
    });

    describe('readAll and headPosition', () => {
      it('reads the log in batches, each after the last position of the previous one', async () => {
        const head = await store.headPosition();
        const [a, b] = [newStreamId(), newStreamId()];
        const appended: string[] = [];
        for (const streamId of [a, b, a, b, a, a, b]) {
          const event = newEvent();
          appended.push(event.id);
          await store.append(streamId, [event]);
        }

        const pages = await readLog(store, head, 3);
        const log = pages.flat();

        expect(pages.every((page) => page.length <= 3)).toBe(true);
        expectStrictlyIncreasing(log.map((event) => event.position));
        const ours = log.filter((event) => event.streamId === a || event.streamId === b);
        expect(ours.map((event) => event.id)).toEqual(appended);
      });

      it('reads strictly after the given position', async () => {
        const streamId = newStreamId();
        await store.append(streamId, newEvents(3));
        const [first, second, third] = await store.readStream(streamId);

        const read = await store.readAll({ after: first?.position ?? '', maxCount: 2 });

        expect(read.map((event) => event.id)).toEqual([second?.id, third?.id]);
      });

      it('reads at most 1000 events by default', async () => {
        const head = await store.headPosition();
        await store.append(newStreamId(), newEvents(1001));

        const read = await store.readAll(head === undefined ? {} : { after: head });

        expect(read).toHaveLength(1000);
      });

      it('rejects a malformed position with a ValidationError', async () => {
        await expect(store.readAll({ after: 'not a position' })).rejects.toBeInstanceOf(
          ValidationError,
        );
      });

      it('headPosition is the position of the latest append', async () => {
        const first = await store.append(newStreamId(), newEvents(2));
        expect(await store.headPosition()).toBe(first.position);
        const second = await store.append(newStreamId(), newEvents(1));
        expect(await store.headPosition()).toBe(second.position);
        expect(comparePositions(first.position, second.position)).toBe(-1);
      });
    });

    describe('subscribeToAll', () => {
      it('catches up from the start of the log, then receives live appends', async () => {
        const streamId = newStreamId();
        await store.append(streamId, newEvents(3));
        const subscriber = subscribe(store, (event) => event.streamId === streamId, {
          batchSize: 2,
        });
        await subscriber.waitFor(3);

        await store.append(streamId, newEvents(2));
        await subscriber.waitFor(5);
        subscriber.abort();
        await subscriber.done;

        expect(subscriber.events.map((event) => event.revision)).toEqual([0, 1, 2, 3, 4]);
        expect(subscriber.events).toEqual(await store.readStream(streamId));
      });

      it('catches up strictly after a position, then receives live appends', async () => {
        const streamId = newStreamId();
        await store.append(streamId, newEvents(3));
        const [, second] = await store.readStream(streamId);
        const subscriber = subscribe(store, (event) => event.streamId === streamId, {
          after: second?.position ?? '',
        });
        await subscriber.waitFor(1);

        await store.append(streamId, newEvents(1));
        await subscriber.waitFor(2);
        subscriber.abort();
        await subscriber.done;

        expect(subscriber.events.map((event) => event.revision)).toEqual([2, 3]);
      });

      it('delivers the whole log in strictly increasing positions', async () => {
        const head = await store.headPosition();
        const streams = [newStreamId(), newStreamId(), newStreamId()];
        await Promise.all(streams.map((streamId) => store.append(streamId, newEvents(4))));
        const all: RecordedEvent[] = [];
        const subscriber = subscribe(
          store,
          (event) => {
            all.push(event);
            return streams.includes(event.streamId);
          },
          head === undefined ? { batchSize: 5 } : { after: head, batchSize: 5 },
        );

        await subscriber.waitFor(12);
        subscriber.abort();
        await subscriber.done;

        expectStrictlyIncreasing(all.map((event) => event.position));
      });

      it('several subscriptions receive the same live appends', async () => {
        const streamId = newStreamId();
        const head = await store.headPosition();
        const options = head === undefined ? {} : { after: head };
        const keep = (event: RecordedEvent) => event.streamId === streamId;
        const subscribers = [subscribe(store, keep, options), subscribe(store, keep, options)];

        await store.append(streamId, newEvents(2));
        await store.append(streamId, newEvents(1));
        await Promise.all(subscribers.map((subscriber) => subscriber.waitFor(3)));
        subscribers.forEach((subscriber) => subscriber.abort());
        await Promise.all(subscribers.map((subscriber) => subscriber.done));

        const [first, second] = subscribers.map((subscriber) => subscriber.events);
        expect(first?.map((event) => event.revision)).toEqual([0, 1, 2]);
        expect(second).toEqual(first);
      });

      it('aborting ends a subscription that is waiting for events', async () => {
        const head = await store.headPosition();
        const controller = new AbortController();
        const iterator = store
          .subscribeToAll(
            head === undefined
              ? { signal: controller.signal }
              : {
                  after: head,
                  signal: controller.signal,
                },
          )
          [Symbol.asyncIterator]();
        const next = iterator.next();
        await new Promise((resolve) => setTimeout(resolve, 50));

        controller.abort();

        expect(await settlesWithin(next, 1_000)).toBe(true);
        await expect(next).resolves.toEqual({ done: true, value: undefined });
      });

      it('an already aborted signal delivers nothing', async () => {
        await store.append(newStreamId(), newEvents(1));
        const subscription = store.subscribeToAll({ signal: AbortSignal.abort() });
        const delivered: RecordedEvent[] = [];
        for await (const event of subscription) delivered.push(event);
        expect(delivered).toEqual([]);
      });
    });

    describe('concurrent appends', () => {
      it('with the same expected revision on one stream, exactly one wins', async () => {
        const streamId = newStreamId();
        await store.append(streamId, newEvents(1));
        const attempts = Array.from({ length: 10 }, () => newEvents(2));

        const outcomes = await Promise.allSettled(
          attempts.map((events) => store.append(streamId, events, { expectedRevision: 0 })),
        );

        const winners = outcomes.flatMap((outcome, index) =>
          outcome.status === 'fulfilled' ? [attempts[index]] : [],
        );
        const losers = outcomes.flatMap((o) =>
          o.status === 'rejected' ? [o.reason as unknown] : [],
        );
        expect(winners).toHaveLength(1);
        expect(losers).toHaveLength(9);
        losers.forEach((reason) => expect(reason).toBeInstanceOf(ConflictError));
        const read = await store.readStream(streamId, { fromRevision: 1 });
        expect(read.map((event) => event.id)).toEqual(winners[0]?.map((event) => event.id));
      });

      it('with "no-stream" on one new stream, exactly one creates it', async () => {
        const streamId = newStreamId();
        const outcomes = await Promise.allSettled(
          Array.from({ length: 10 }, () =>
            store.append(streamId, newEvents(1), { expectedRevision: 'no-stream' }),
          ),
        );

        expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
        expect(await store.readStream(streamId)).toHaveLength(1);
      });

      it('with "any" on one stream, all succeed with contiguous revisions', async () => {
        const streamId = newStreamId();
        const results = await Promise.all(
          Array.from({ length: 20 }, () => store.append(streamId, newEvents(1))),
        );

        const revisions = results
          .map((result) => result.nextExpectedRevision)
          .sort((x, y) => x - y);
        expect(revisions).toEqual(Array.from({ length: 20 }, (_, index) => index));
        expect(await store.readStream(streamId)).toHaveLength(20);
      });

      it('to many streams all succeed, with distinct increasing positions', async () => {
        const streams = Array.from({ length: 50 }, () => newStreamId());

        const results = await Promise.all(
          streams.map((streamId) =>
            store.append(streamId, newEvents(2), { expectedRevision: 'no-stream' }),
          ),
        );

        const positions = results.map((result) => result.position);
        expect(new Set(positions).size).toBe(50);
        expectStrictlyIncreasing([...positions].sort(comparePositions));
        for (const [index, streamId] of streams.entries()) {
          const read = await store.readStream(streamId);
          expect(read.map((event) => event.revision)).toEqual([0, 1]);
          expect(read[1]?.position).toBe(results[index]?.position);
        }
      });
    });

    describe('close', () => {
      it('finishes pending appends before closing', async () => {
        const appends = Array.from({ length: 5 }, () => store.append(newStreamId(), newEvents(1)));

        await store.close();

        const results = await Promise.all(appends);
        expect(results).toHaveLength(5);
      });

      it('ends live subscriptions', async () => {
        const head = await store.headPosition();
        const subscriber = subscribe(store, () => true, head === undefined ? {} : { after: head });
        await new Promise((resolve) => setTimeout(resolve, 50));

        await store.close();

        expect(await settlesWithin(subscriber.done, 1_000)).toBe(true);
      });

      it('rejects later calls with a ClosedError, and closing again is harmless', async () => {
        await store.close();

        await expect(store.append(newStreamId(), newEvents(1))).rejects.toBeInstanceOf(ClosedError);
        await expect(store.readStream(newStreamId())).rejects.toBeInstanceOf(ClosedError);
        await expect(store.readAll()).rejects.toBeInstanceOf(ClosedError);
        await expect(store.headPosition()).rejects.toBeInstanceOf(ClosedError);
        const iterator = store.subscribeToAll()[Symbol.asyncIterator]();
        await expect(iterator.next()).rejects.toBeInstanceOf(ClosedError);
        await expect(store.close()).resolves.toBeUndefined();
      });
    });

    it('keeps every stream contiguous and every append all-or-nothing under random interleavings', async () => {
      await fc.assert(
        fc.asyncProperty(writersArbitrary, (writers) => runInterleaving(store, writers)),
        { numRuns: 30 },
      );
    });
  });
}

// --- The property: random writers racing on a few streams -----------------------------------

type Expectation = ExpectedRevision | 'last-seen';
type Operation = Readonly<{
  stream: number;
  size: number;
  expected: Expectation;
  /** Event-loop turns to let pass first, so operations of different writers interleave. */
  turns: number;
  /** Re-sends the events of an earlier attempt of this writer, as a client retry would. */
  retryOf: number | null;
}>;

const STREAMS = 3;

const operationArbitrary: fc.Arbitrary<Operation> = fc.record({
  stream: fc.integer({ min: 0, max: STREAMS - 1 }),
  size: fc.integer({ min: 1, max: 3 }),
  expected: fc.oneof(
    fc.constantFrom<Expectation>('any', 'no-stream', 'stream-exists', 'last-seen', 'last-seen'),
    fc.integer({ min: 0, max: 6 }),
  ),
  turns: fc.integer({ min: 0, max: 2 }),
  retryOf: fc.option(fc.nat({ max: 10 }), { freq: 4 }),
});

const writersArbitrary = fc.array(fc.array(operationArbitrary, { minLength: 1, maxLength: 6 }), {
  minLength: 2,
  maxLength: 4,
});

type Attempt = {
  streamId: string;
  events: readonly NewEvent[];
  issuedAt: number;
  settledAt?: number;
  result?: AppendResult;
};

async function runInterleaving(
  store: EventStore,
  writers: readonly (readonly Operation[])[],
): Promise<void> {
  const run = randomUUID();
  const streamIds = Array.from({ length: STREAMS }, (_, index) => `prop${index}-${run}`);
  const head = await store.headPosition();
  let clock = 0;
  const attempts: Attempt[] = [];

  async function write(operations: readonly Operation[]): Promise<void> {
    const mine: Attempt[] = [];
    const lastSeen = new Map<string, number>();
    for (const operation of operations) {
      for (let turn = 0; turn < operation.turns; turn++) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      const retried =
        operation.retryOf === null ? undefined : mine[operation.retryOf % (mine.length || 1)];
      const streamId = retried?.streamId ?? streamIds[operation.stream] ?? '';
      const events = retried?.events ?? newEvents(operation.size, 'PropertyTested');
      const seen = lastSeen.get(streamId);
      const expectedRevision: ExpectedRevision =
        operation.expected !== 'last-seen' ? operation.expected : (seen ?? 'no-stream');
      const attempt: Attempt = { streamId, events, issuedAt: clock++ };
      mine.push(attempt);
      attempts.push(attempt);
      try {
        attempt.result = await store.append(streamId, events, { expectedRevision });
        lastSeen.set(streamId, attempt.result.nextExpectedRevision);
      } catch (error) {
        expect(error).toBeInstanceOf(ConflictError);
        const actual = (error as ConflictError).actual;
        if (actual === 'no-stream') lastSeen.delete(streamId);
        else lastSeen.set(streamId, Number(actual));
      }
      attempt.settledAt = clock++;
    }
  }

  await Promise.all(writers.map(write));
  await checkOutcome(store, head, streamIds, attempts);
}

async function checkOutcome(
  store: EventStore,
  head: Position | undefined,
  streamIds: readonly string[],
  attempts: readonly Attempt[],
): Promise<void> {
  const streams = new Map<string, readonly RecordedEvent[]>();
  for (const streamId of streamIds) {
    const read = await store.readStream(streamId);
    expect(read.map((event) => event.revision)).toEqual(read.map((_, index) => index));
    streams.set(streamId, read);
  }

  // Retries share the events array of the attempt they repeat.
  const byEvents = new Map<readonly NewEvent[], Attempt[]>();
  for (const attempt of attempts) {
    byEvents.set(attempt.events, [...(byEvents.get(attempt.events) ?? []), attempt]);
  }
  let appendedEvents = 0;
  for (const [events, tries] of byEvents) {
    const streamId = tries[0]?.streamId ?? '';
    const stored = (streams.get(streamId) ?? []).filter((event) =>
      events.some((appended) => appended.id === event.id),
    );
    const successes = tries.filter((attempt) => attempt.result !== undefined);
    const first = successes[0];
    if (first === undefined) {
      expect(stored).toEqual([]);
      continue;
    }
    appendedEvents += events.length;
    // Present exactly once, in order, at consecutive revisions ending at the reported one.
    expect(stored.map((event) => event.id)).toEqual(events.map((event) => event.id));
    const last = stored[stored.length - 1];
    const firstRevision = (last?.revision ?? 0) - events.length + 1;
    expect(stored.map((event) => event.revision)).toEqual(
      events.map((_, index) => firstRevision + index),
    );
    expect(first.result).toEqual({
      nextExpectedRevision: last?.revision,
      position: last?.position,
    });
    successes.forEach((attempt) => expect(attempt.result).toEqual(first.result));
    // Once an append has succeeded, every later retry of it must succeed too.
    const settled = Math.min(...successes.map((attempt) => attempt.settledAt ?? Infinity));
    tries
      .filter((attempt) => attempt.issuedAt > settled)
      .forEach((attempt) => expect(attempt.result).toEqual(first.result));
  }

  const log = (await readLog(store, head)).flat();
  const ours = log.filter((event) => streamIds.includes(event.streamId));
  expect(ours).toHaveLength(appendedEvents);
  expectStrictlyIncreasing(log.map((event) => event.position));
}
