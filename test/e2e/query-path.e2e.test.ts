/**
 * The query hot path: a cached document is answered without awaiting anything, and hooks that
 * only commands need (idempotency, the in-flight limit) run on command routes alone. These
 * specify that the shortcuts change nothing a client can see.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { CommandHandler } from '../../src/commands/command-handler.js';
import { createCommandHandler } from '../../src/commands/command-handler.js';
import { createSqliteIdempotencyStore } from '../../src/commands/sqlite/sqlite-idempotency-store.js';
import type { IdempotencyStore } from '../../src/commands/idempotency-store.js';
import { buildApp, type App } from '../../src/http/app.js';
import { orderViewProjection } from '../../src/projections/order-view/order-view.projection.js';
import { collectionName } from '../../src/projections/projector.js';
import { createSqliteReadStore } from '../../src/projections/sqlite/sqlite-read-store.js';
import type { ReadStore } from '../../src/projections/read-store.js';
import { createDocumentReader, type DocumentReader } from '../../src/queries/document-reader.js';
import { createMemoryCache } from '../../src/queries/memory/memory-cache.js';
import type { Cache } from '../../src/queries/cache.js';
import { createSqliteEventStore } from '../../src/streams/sqlite/sqlite-event-store.js';
import type { EventStore } from '../../src/streams/event-store.js';

const pos = (n: number): string => String(n).padStart(20, '0');
const ORDERS = collectionName(orderViewProjection);
const order = { orderId: 'o-1', customerId: 'c-1', status: 'pending', items: [] };
const product = (sku: string) => ({ sku, name: sku, priceCents: 100, initialStock: 5 });

describe('query path', () => {
  let app: App;
  let store: EventStore;
  let readStore: ReadStore;
  let cache: Cache;
  let documents: DocumentReader;
  let idempotency: IdempotencyStore;
  /** Commands wait here while it is closed, to hold them in flight. */
  let gate: Promise<void> = Promise.resolve();
  let waits: string[] = [];

  beforeAll(async () => {
    store = createSqliteEventStore({ path: ':memory:' });
    readStore = createSqliteReadStore({ path: ':memory:' });
    await readStore.ensureCollection({ name: ORDERS, indexes: [] });
    await readStore.bulkWrite(ORDERS, [
      { kind: 'upsert', id: order.orderId, position: pos(3), value: order },
    ]);
    cache = createMemoryCache();
    documents = createDocumentReader({ store: readStore, cache });
    idempotency = createSqliteIdempotencyStore({ path: ':memory:' });
    const real = createCommandHandler({ store });
    const commands: CommandHandler = {
      load: (decider, streamId) => real.load(decider, streamId),
      execute: async (decider, streamId, command, options) => {
        await gate;
        return real.execute(decider, streamId, command, options);
      },
    };
    app = await buildApp(
      {
        commands,
        documents,
        readStore,
        progress: {
          position: () => pos(3),
          waitFor: (_projection, position) => {
            waits.push(position);
            return Promise.resolve(true);
          },
        },
        readiness: () => ({ ready: true, checks: {} }),
        idempotency,
      },
      { maxInFlightCommands: 1, logger: pino({ level: 'silent' }) },
    );
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await idempotency.close();
    await cache.close();
    await store.close();
    await readStore.close();
  });

  const getOrder = (headers: Record<string, string> = {}) =>
    app.inject({ method: 'GET', url: `/v1/orders/${order.orderId}`, headers });

  it('answers a cached document with the same body and headers as a store read', async () => {
    waits = [];
    const miss = await getOrder();
    const hit = await getOrder();
    for (const response of [miss, hit]) {
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual(order);
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(response.headers['streamfold-position']).toBe(pos(3));
    }
    expect(miss.headers['streamfold-cache']).toBe('miss');
    expect(hit.headers['streamfold-cache']).toBe('hit');
    expect(hit.body).toBe(miss.body);
    expect(waits).toEqual([]);
  });

  it('Streamfold-Min-Position still waits and reads the store, past the cache', async () => {
    waits = [];
    await getOrder();
    const fresh = await getOrder({ 'streamfold-min-position': pos(3) });
    expect(fresh.statusCode).toBe(200);
    expect(fresh.headers['streamfold-cache']).toBe('miss');
    expect(waits).toEqual([pos(3)]);
  });

  it('a malformed Streamfold-Min-Position is a 400 problem, even for a cached document', async () => {
    await getOrder();
    const response = await getOrder({ 'streamfold-min-position': 'not a position!' });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({ code: 'STREAMFOLD_VALIDATION' });
  });

  it('a missing document is a 404 problem', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/orders/o-404' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ code: 'STREAMFOLD_NOT_FOUND' });
  });

  it('a cached document changed by a projector is read again from the store', async () => {
    await getOrder();
    const changed = { ...order, status: 'confirmed' };
    await readStore.bulkWrite(ORDERS, [
      { kind: 'upsert', id: order.orderId, position: pos(4), value: changed },
    ]);
    await cache.invalidate([`${ORDERS}:${order.orderId}`], pos(4));
    const response = await getOrder();
    expect(response.headers['streamfold-cache']).toBe('miss');
    expect(response.headers['streamfold-position']).toBe(pos(4));
    expect(response.json()).toEqual(changed);
    expect((await getOrder()).headers['streamfold-cache']).toBe('hit');
  });

  it('over the in-flight limit a command gets 503, while queries are still answered', async () => {
    let open = () => {};
    gate = new Promise((resolve) => (open = resolve));
    const held = app.inject({ method: 'POST', url: '/v1/products', payload: product('held') });
    // Let the first command reach the gate.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const shed = await app.inject({ method: 'POST', url: '/v1/products', payload: product('x') });
    expect(shed.statusCode).toBe(503);
    expect(shed.headers['retry-after']).toBe('1');
    expect(shed.json()).toMatchObject({ code: 'STREAMFOLD_OVERLOADED' });
    expect((await getOrder()).statusCode).toBe(200);
    open();
    expect((await held).statusCode).toBe(201);
    const after = await app.inject({ method: 'POST', url: '/v1/products', payload: product('y') });
    expect(after.statusCode).toBe(201);
  });

  it('documents Idempotency-Key on commands and the query headers on queries', async () => {
    const spec = app.swagger() as {
      paths: Record<string, Record<string, { parameters?: { in: string; name: string }[] }>>;
    };
    const headersOf = (path: string, method: string) =>
      (spec.paths[path]?.[method]?.parameters ?? [])
        .filter((parameter) => parameter.in === 'header')
        .map((parameter) => parameter.name);
    expect(headersOf('/v1/products', 'post')).toContain('idempotency-key');
    expect(headersOf('/v1/orders/{orderId}', 'get')).toEqual(
      expect.arrayContaining(['streamfold-min-position', 'streamfold-max-wait-ms']),
    );
    expect(headersOf('/v1/orders/{orderId}', 'get')).not.toContain('idempotency-key');
  });
});
