import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCommandHandler, type CommandHandler } from '../../src/commands/command-handler.js';
import type { IdempotencyStore } from '../../src/commands/idempotency-store.js';
import { createSqliteIdempotencyStore } from '../../src/commands/sqlite/sqlite-idempotency-store.js';
import { orderStreamId } from '../../src/commands/order/order.events.js';
import { productStreamId } from '../../src/commands/product/product.events.js';
import { loadConfig } from '../../src/config.js';
import { buildApp, type App } from '../../src/http/app.js';
import { startStreamfold } from '../../src/main.js';
import { createSqliteReadStore } from '../../src/projections/sqlite/sqlite-read-store.js';
import { createDocumentReader } from '../../src/queries/document-reader.js';
import { createMemoryCache } from '../../src/queries/memory/memory-cache.js';
import { createSqliteEventStore } from '../../src/streams/sqlite/sqlite-event-store.js';
import { startEmbedded, type Embedded } from '../support/embedded.js';
import { get, post, type JsonResponse } from '../support/http.js';

const KEY = 'idempotency-key';
const REPLAYED = 'idempotency-replayed';
let counter = 0;
/** A key unique to this run, in the shape clients usually send (a UUID would do as well). */
const newKey = (): string => `test-${process.pid}-${Date.now()}-${++counter}`;

const product = (sku: string) => ({ sku, name: sku, priceCents: 250, initialStock: 5 });

describe('Idempotency-Key on commands (embedded, over HTTP)', () => {
  let server: Embedded;
  let events: ReturnType<typeof createSqliteEventStore>;
  const streamLength = async (streamId: string) => (await events.readStream(streamId)).length;

  beforeAll(async () => {
    server = await startEmbedded();
    // A second connection to the log, as another process would have: what was appended is
    // what the server committed, whatever it answered.
    events = createSqliteEventStore({ path: join(server.dataDir, 'events.db') });
  });
  afterAll(async () => {
    await events.close();
    await server.stop();
  });

  it('answers the same key and body with the original response and appends once', async () => {
    const key = newKey();
    const first = await post(server.url, '/v1/products', product('once'), { [KEY]: key });
    expect(first.status).toBe(201);
    expect(first.headers.get(REPLAYED)).toBeNull();

    const again = await post(server.url, '/v1/products', product('once'), { [KEY]: key });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get(REPLAYED)).toBe('true');
    for (const header of ['content-type', 'location', 'etag', 'streamfold-position']) {
      expect(again.headers.get(header), header).toBe(first.headers.get(header));
    }
    expect(await streamLength(productStreamId('once'))).toBe(1);
  });

  it('treats a body with its members in another order as the same request', async () => {
    const key = newKey();
    const first = await post(server.url, '/v1/products', product('ordered'), { [KEY]: key });
    const reordered = await fetch(`${server.url}/v1/products`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [KEY]: key },
      body: '{"initialStock":5,"priceCents":250,"name":"ordered","sku":"ordered"}',
    });
    expect(reordered.status).toBe(first.status);
    expect(reordered.headers.get(REPLAYED)).toBe('true');
    expect(await reordered.json()).toEqual(first.body);
  });

  it('replays a placed order, so the retry does not place a second one', async () => {
    await post(server.url, '/v1/products', product('pear'));
    const key = newKey();
    const order = { customerId: 'idem-customer', items: [{ sku: 'pear', quantity: 1 }] };
    const first = await post<{ orderId: string }>(server.url, '/v1/orders', order, { [KEY]: key });
    expect([201, 202]).toContain(first.status);

    const again = await post<{ orderId: string }>(server.url, '/v1/orders', order, { [KEY]: key });
    expect(again.status).toBe(first.status);
    expect(again.body.orderId).toBe(first.body.orderId);
    expect(again.headers.get(REPLAYED)).toBe('true');
    // The order-processing workflow may confirm the order meanwhile; what matters is that the
    // log holds one placement for this customer.
    const placed = (await events.readAll({ maxCount: 100_000 })).filter(
      (e) => e.type === 'OrderPlaced' && e.data.customerId === order.customerId,
    );
    expect(placed.map((e) => e.streamId)).toEqual([orderStreamId(first.body.orderId)]);
  });

  it('answers the same key with another body 422 and appends nothing', async () => {
    const key = newKey();
    await post(server.url, '/v1/products', product('first-body'), { [KEY]: key });
    const other = await post(server.url, '/v1/products', product('second-body'), { [KEY]: key });
    expectProblem(other, 422, 'STREAMFOLD_IDEMPOTENCY_MISMATCH');
    expect(await streamLength(productStreamId('second-body'))).toBe(0);
  });

  it('answers the same key on another route 422 and appends nothing', async () => {
    const key = newKey();
    await post(server.url, '/v1/products', product('route-a'), { [KEY]: key });
    await post(server.url, '/v1/products', product('route-b'));
    const restockA = await post(
      server.url,
      '/v1/products/route-a/restock',
      { quantity: 1 },
      { [KEY]: key },
    );
    expectProblem(restockA, 422, 'STREAMFOLD_IDEMPOTENCY_MISMATCH');
    const key2 = newKey();
    await post(server.url, '/v1/products/route-a/restock', { quantity: 1 }, { [KEY]: key2 });
    const otherProduct = await post(
      server.url,
      '/v1/products/route-b/restock',
      { quantity: 1 },
      { [KEY]: key2 },
    );
    expectProblem(otherProduct, 422, 'STREAMFOLD_IDEMPOTENCY_MISMATCH');
    expect(await streamLength(productStreamId('route-a'))).toBe(2);
    expect(await streamLength(productStreamId('route-b'))).toBe(1);
  });

  it('replays a 4xx answer too, even once the request would now succeed', async () => {
    const key = newKey();
    const early = await post(
      server.url,
      '/v1/products/late/restock',
      { quantity: 3 },
      { [KEY]: key },
    );
    expect(early.status).toBeGreaterThanOrEqual(400);
    expect(early.status).toBeLessThan(500);
    await post(server.url, '/v1/products', product('late'));

    const again = await post(
      server.url,
      '/v1/products/late/restock',
      { quantity: 3 },
      { [KEY]: key },
    );
    expect(again.status).toBe(early.status);
    expect(again.body).toEqual(early.body);
    expect(again.headers.get(REPLAYED)).toBe('true');
    expect(await streamLength(productStreamId('late'))).toBe(1);
  });

  it('lets one of many concurrent requests with one key run; the rest get 409 or its replay', async () => {
    await post(server.url, '/v1/products', product('race'));
    const key = newKey();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        post(server.url, '/v1/products/race/restock', { quantity: 7 }, { [KEY]: key }),
      ),
    );
    const original = answers.filter((a) => a.status === 200 && a.headers.get(REPLAYED) === null);
    expect(original).toHaveLength(1);
    for (const answer of answers) {
      if (answer.status === 409) {
        expectProblem(answer, 409, 'STREAMFOLD_IDEMPOTENCY_IN_FLIGHT');
      } else {
        expect(answer.status).toBe(200);
        expect(answer.body).toEqual(original[0]?.body);
      }
    }
    expect(await streamLength(productStreamId('race'))).toBe(2);
  });

  it('handles commands without a key exactly as before', async () => {
    await post(server.url, '/v1/products', product('plain'));
    const one = await post(server.url, '/v1/products/plain/restock', { quantity: 1 });
    const two = await post(server.url, '/v1/products/plain/restock', { quantity: 1 });
    expect([one.status, two.status]).toEqual([200, 200]);
    expect(one.headers.get(REPLAYED)).toBeNull();
    expect(two.body.revision).toBe(Number(one.body.revision) + 1);
    expect(await streamLength(productStreamId('plain'))).toBe(3);
  });

  it('refuses a malformed key with 400 and runs nothing', async () => {
    const tooLong = await post(server.url, '/v1/products', product('bad-key'), {
      [KEY]: 'k'.repeat(256),
    });
    expectProblem(tooLong, 400, 'STREAMFOLD_VALIDATION');
    const empty = await post(server.url, '/v1/products', product('bad-key'), { [KEY]: '' });
    expectProblem(empty, 400, 'STREAMFOLD_VALIDATION');
    expect(await streamLength(productStreamId('bad-key'))).toBe(0);
  });

  it('ignores the header on queries', async () => {
    const created = await post(server.url, '/v1/products', product('query'));
    const read = await get(server.url, '/v1/products/query', {
      [KEY]: '',
      'streamfold-min-position': String(created.body.position),
    });
    expect(read.status).toBe(200);
    expect(read.headers.get(REPLAYED)).toBeNull();
  });

  it('documents the header on command routes', async () => {
    const docs = await get<{
      paths: Record<string, { post?: { parameters?: { name: string }[] } }>;
    }>(server.url, '/docs/json');
    for (const path of ['/v1/products', '/v1/products/{sku}/restock', '/v1/orders']) {
      const names = docs.body.paths[path]?.post?.parameters?.map((p) => p.name) ?? [];
      expect(names, path).toContain('idempotency-key');
    }
  });
});

describe('Idempotency-Key across a restart', () => {
  it('still replays an answered key after the server restarts on the same data', async () => {
    const first = await startEmbedded();
    const dataDir = first.dataDir;
    const config = loadConfig({ STREAMFOLD_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' });
    try {
      const key = newKey();
      const created = await post(first.url, '/v1/products', product('durable'), { [KEY]: key });
      expect(created.status).toBe(201);
      await first.running.stop();

      const second = await startStreamfold(config, pino({ level: 'silent' }));
      try {
        const again = await post(second.url, '/v1/products', product('durable'), { [KEY]: key });
        expect(again.status).toBe(201);
        expect(again.headers.get(REPLAYED)).toBe('true');
        expect(again.body).toEqual(created.body);
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('Idempotency-Key while the first request is held in flight', () => {
  let app: App;
  let url: string;
  let idempotency: IdempotencyStore;
  const store = createSqliteEventStore({ path: ':memory:' });
  const readStore = createSqliteReadStore({ path: ':memory:' });
  const real = createCommandHandler({ store });
  /** Commands wait at this gate while it is closed; `failNext` makes the next one throw. */
  let gate: Promise<void> = Promise.resolve();
  let failNext = false;
  const entered: (() => void)[] = [];
  const commands: CommandHandler = {
    load: (decider, streamId) => real.load(decider, streamId),
    execute: async (decider, streamId, command, options) => {
      for (const notify of entered.splice(0)) notify();
      await gate;
      if (failNext) {
        failNext = false;
        throw new Error('the disk is on fire');
      }
      return real.execute(decider, streamId, command, options);
    },
  };
  const nextCommandEnters = () => new Promise<void>((resolve) => entered.push(resolve));

  beforeAll(async () => {
    idempotency = createSqliteIdempotencyStore({ path: ':memory:' });
    app = await buildApp(
      {
        commands,
        documents: createDocumentReader({ store: readStore, cache: createMemoryCache() }),
        readStore,
        progress: { position: () => undefined, waitFor: () => Promise.resolve(true) },
        readiness: () => ({ ready: true, checks: {} }),
        idempotency,
      },
      {},
    );
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app.close();
    await idempotency.close();
    await store.close();
    await readStore.close();
  });

  it('answers 409 to the same key while the first runs, then replays its answer', async () => {
    const key = newKey();
    let open = () => {};
    gate = new Promise((resolve) => (open = resolve));
    const entering = nextCommandEnters();
    const first = post(url, '/v1/products', product('held'), { [KEY]: key });
    await entering;

    const during = await post(url, '/v1/products', product('held'), { [KEY]: key });
    expectProblem(during, 409, 'STREAMFOLD_IDEMPOTENCY_IN_FLIGHT');
    const otherBody = await post(url, '/v1/products', product('held-2'), { [KEY]: key });
    expectProblem(otherBody, 422, 'STREAMFOLD_IDEMPOTENCY_MISMATCH');

    open();
    const answered = await first;
    expect(answered.status).toBe(201);
    const after = await post(url, '/v1/products', product('held'), { [KEY]: key });
    expect(after.status).toBe(201);
    expect(after.headers.get(REPLAYED)).toBe('true');
    expect(after.body).toEqual(answered.body);
    expect(await store.readStream(productStreamId('held'))).toHaveLength(1);
  });

  it('frees the key after a 5xx, so the retry runs the command', async () => {
    const key = newKey();
    failNext = true;
    const failed = await post(url, '/v1/products', product('retried'), { [KEY]: key });
    expectProblem(failed, 500, 'STREAMFOLD_INTERNAL');
    const retried = await post(url, '/v1/products', product('retried'), { [KEY]: key });
    expect(retried.status).toBe(201);
    expect(retried.headers.get(REPLAYED)).toBeNull();
    expect(await store.readStream(productStreamId('retried'))).toHaveLength(1);
  });
});

function expectProblem(response: JsonResponse, status: number, code: string): void {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.body).toMatchObject({ status, code });
}
