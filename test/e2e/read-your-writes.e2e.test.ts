/**
 * Read your writes: a query sent with the position a command returned always sees that
 * command's effect, even when the cache held the previous version a moment before; past the
 * bounded wait it gets 503 with Retry-After.
 */
import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startEmbedded, type Embedded } from '../support/embedded.js';
import { get, post } from '../support/http.js';
import { startNatsCluster } from '../support/nats-cluster.js';
import { NATS_URL, REDIS_URL, requireService } from '../support/services.js';

vi.setConfig({ hookTimeout: 120_000, testTimeout: 240_000 });

const natsOk = await requireService('NATS', NATS_URL, 'read-your-writes over NATS');
const redisOk = await requireService('Redis', REDIS_URL, 'read-your-writes with the Redis cache');
const ITERATIONS = 1000;
const FAR_FUTURE = '9'.repeat(20);

type Product = { available: number };

/**
 * Per iteration: read the product without a position (so the cache holds the current
 * version), restock one unit, then read with the returned position: it must count that unit.
 */
async function writeThenRead(base: string, iterations: number): Promise<string[]> {
  const sku = `ryw-${randomUUID().slice(0, 8)}`;
  const created = await post<{ position: string }>(base, '/v1/products', {
    sku,
    name: 'Read your writes',
    priceCents: 100,
    initialStock: 1,
  });
  expect(created.status).toBe(201);
  const misses: string[] = [];
  const first = await get<Product>(base, `/v1/products/${sku}`, {
    'streamfold-min-position': created.body.position,
  });
  expect(first.body.available).toBe(1);
  for (let i = 1; i <= iterations; i++) {
    await get(base, `/v1/products/${sku}`);
    const restocked = await post<{ position: string }>(base, `/v1/products/${sku}/restock`, {
      quantity: 1,
    });
    expect(restocked.status).toBe(200);
    const read = await get<Product>(base, `/v1/products/${sku}`, {
      'streamfold-min-position': restocked.body.position,
    });
    if (read.status !== 200 || read.body.available !== 1 + i) {
      misses.push(`#${i}: ${read.status} ${JSON.stringify(read.body)}`);
    }
  }
  return misses;
}

describe('read your writes', () => {
  it(`${ITERATIONS} write-then-read iterations on the in-process bus all see the write`, async () => {
    const system = await startEmbedded();
    try {
      expect(await writeThenRead(system.url, ITERATIONS)).toEqual([]);
    } finally {
      await system.stop();
    }
  });

  describe.skipIf(!redisOk)('with the Redis cache', () => {
    const prefix = `streamfold-test:${randomUUID()}:`;
    afterAll(async () => {
      const admin = createClient({ url: REDIS_URL });
      await admin.connect();
      for await (const keys of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
        if (keys.length > 0) await admin.del(keys);
      }
      admin.destroy();
    });

    it(`${ITERATIONS} iterations on the in-process bus all see the write`, async () => {
      const url = `${REDIS_URL}?keyPrefix=${encodeURIComponent(prefix)}`;
      const system = await startEmbedded({ STREAMFOLD_CACHE_URL: url });
      try {
        expect(await writeThenRead(system.url, ITERATIONS)).toEqual([]);
      } finally {
        await system.stop();
      }
    });
  });

  describe.skipIf(!natsOk)('over the NATS bus, API and projector in separate processes', () => {
    it(`${ITERATIONS} iterations all see the write`, async () => {
      const cluster = await startNatsCluster({
        natsUrl: NATS_URL,
        projectorPartitions: ['0,1,2,3'],
      });
      try {
        expect(await writeThenRead(cluster.api.url, ITERATIONS)).toEqual([]);
      } finally {
        await cluster.dispose();
      }
    });
  });

  describe('bounded wait', () => {
    let system: Embedded;
    beforeAll(async () => {
      system = await startEmbedded({ STREAMFOLD_READ_YOUR_WRITES_TIMEOUT_MS: '300' });
      await post(system.url, '/v1/products', {
        sku: 'kiwi',
        name: 'Kiwi',
        priceCents: 50,
        initialStock: 3,
      });
    });
    afterAll(() => system.stop());

    it('answers 503 problem+json with Retry-After once the wait runs out', async () => {
      const response = await get(system.url, '/v1/products/kiwi', {
        'streamfold-min-position': FAR_FUTURE,
      });
      expect(response.status).toBe(503);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(response.headers.get('retry-after')).toBe('1');
      expect(response.body).toMatchObject({
        code: 'STREAMFOLD_NOT_CAUGHT_UP',
        position: FAR_FUTURE,
      });
    });

    it('a request may shorten the wait with Streamfold-Max-Wait-Ms, but not lengthen it', async () => {
      const short = await get(system.url, '/v1/products/kiwi', {
        'streamfold-min-position': FAR_FUTURE,
        'streamfold-max-wait-ms': '0',
      });
      expect(short.status).toBe(503);
      expect(short.body.detail).toContain('within 0 ms');
      const long = await get(system.url, '/v1/products/kiwi', {
        'streamfold-min-position': FAR_FUTURE,
        'streamfold-max-wait-ms': '60000',
      });
      expect(long.status).toBe(503);
      expect(long.body.detail).toContain('within 300 ms');
    });

    it('a malformed Streamfold-Max-Wait-Ms is a 400', async () => {
      const response = await get(system.url, '/v1/products/kiwi', {
        'streamfold-min-position': FAR_FUTURE,
        'streamfold-max-wait-ms': 'soon',
      });
      expect(response.status).toBe(400);
    });
  });
});
