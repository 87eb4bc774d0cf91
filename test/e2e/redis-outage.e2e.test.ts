/**
 * Redis going away must cost no failed query. Each test runs its own redis-server on a free
 * port, so it can kill or pause it; the shared Redis is never touched.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteReadStore } from '../../src/projections/sqlite/sqlite-read-store.js';
import type { ReadStore } from '../../src/projections/read-store.js';
import type { Cache } from '../../src/queries/cache.js';
import {
  cacheKey,
  createDocumentReader,
  type DocumentReader,
} from '../../src/queries/document-reader.js';
import { createRedisCache, type RedisCacheOptions } from '../../src/queries/redis/redis-cache.js';
import { startEmbedded } from '../support/embedded.js';
import { get, post } from '../support/http.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

const COLLECTION = 'things_v1';
const DOCS = 100;
const pos = (n: number): string => String(n).padStart(20, '0');

async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

type Load = Readonly<{ reads: () => number; failures: unknown[]; stop: () => Promise<void> }>;

/** Readers in a loop, each checking what it got, until stopped. */
function readContinuously(reader: DocumentReader, workers = 8): Load {
  let reads = 0;
  let running = true;
  const failures: unknown[] = [];
  const worker = async () => {
    while (running) {
      const n = Math.floor(Math.random() * DOCS);
      try {
        const doc = await reader.get(COLLECTION, `d${n}`);
        if (doc?.body !== JSON.stringify({ n }))
          failures.push(new Error(`d${n} read ${doc?.body}`));
      } catch (error) {
        failures.push(error);
      }
      reads++;
      // Without Redis every step settles in microtasks (SQLite is synchronous); yield so that
      // timers and child-process events still run, as they would between HTTP requests.
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  const loops = Array.from({ length: workers }, worker);
  return {
    reads: () => reads,
    failures,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

describe('Redis outages', () => {
  let redis: RedisServer;
  let store: ReadStore;
  let cache: Cache;
  const errors: Error[] = [];

  function redisCache(options: Partial<RedisCacheOptions> = {}): Cache {
    return createRedisCache({
      url: redis.url,
      keyPrefix: `t:${randomUUID()}:`,
      onError: (e) => errors.push(e),
      ...options,
    });
  }

  beforeEach(async () => {
    redis = await startRedisServer();
    store = createSqliteReadStore({ path: ':memory:' });
    await store.ensureCollection({ name: COLLECTION, indexes: [] });
    await store.bulkWrite(
      COLLECTION,
      Array.from({ length: DOCS }, (_, n) => ({
        kind: 'upsert',
        id: `d${n}`,
        position: pos(1),
        value: { n },
      })),
    );
  });
  afterEach(async () => {
    await cache.close();
    await store.close();
    await redis.stop();
  });

  it('Redis killed mid-load costs no failed query, and the cache serves again once it is back', async () => {
    cache = redisCache();
    const reader = createDocumentReader({ store, cache });
    const load = readContinuously(reader);
    await until('cache hits', () => reader.stats().hits > 200);

    await redis.kill();
    const readsAtKill = load.reads();
    await until('reads without Redis', () => load.reads() > readsAtKill + 500);
    expect(reader.stats().cacheErrors).toBeGreaterThan(0);

    await redis.restart();
    const hitsAtRestart = reader.stats().hits;
    await until('hits after the restart', () => reader.stats().hits > hitsAtRestart + 200);
    await load.stop();

    expect(load.failures).toEqual([]);
    expect(errors.length).toBeGreaterThan(0); // reported, not thrown
  });

  it('a hung Redis costs a few timeouts, then the open circuit answers at once', async () => {
    cache = redisCache({
      commandTimeoutMs: 1000,
      breaker: { failureThreshold: 2, cooldownMs: 60_000 },
    });
    const reader = createDocumentReader({ store, cache });
    await reader.get(COLLECTION, 'd1');
    redis.pause();
    // Two reads time out on get and trip the breaker.
    for (const id of ['d2', 'd3']) expect((await reader.get(COLLECTION, id))?.body).toBeDefined();
    const start = performance.now();
    for (let n = 0; n < 50; n++) {
      expect((await reader.get(COLLECTION, `d${n}`))?.body).toBe(JSON.stringify({ n }));
    }
    // Fifty reads in well under one command timeout: none of them waited for Redis.
    expect(performance.now() - start).toBeLessThan(1000);
    redis.resume();
  });

  it('invalidations lost while Redis was cut off are replayed; the stale entry is never served', async () => {
    cache = redisCache({
      commandTimeoutMs: 300,
      breaker: { failureThreshold: 1, cooldownMs: 100 },
    });
    const reader = createDocumentReader({ store, cache });
    await reader.get(COLLECTION, 'd7');
    expect((await reader.get(COLLECTION, 'd7'))?.source).toBe('cache');

    redis.pause(); // Redis keeps its data, as behind a network partition.
    await store.bulkWrite(COLLECTION, [
      { kind: 'upsert', id: 'd7', position: pos(2), value: { n: 'new' } },
    ]);
    await expect(cache.invalidate([cacheKey(COLLECTION, 'd7')], pos(2))).rejects.toThrow();
    redis.resume();

    // Every read from here on sees the new version, while the repair runs and after it.
    await until('the cache to serve d7 again', async () => {
      const doc = await reader.get(COLLECTION, 'd7');
      expect(doc?.body).toBe('{"n":"new"}');
      return doc?.source === 'cache';
    });
  });
});

describe('the API on a Redis cache', () => {
  it('keeps answering queries, with read-your-writes, while Redis is down', async () => {
    const redis = await startRedisServer();
    const system = await startEmbedded({ STREAMFOLD_CACHE_URL: redis.url });
    try {
      const base = system.url;
      const created = await post<{ position: string }>(base, '/v1/products', {
        sku: 'pear',
        name: 'Pear',
        priceCents: 90,
        initialStock: 100,
      });
      expect(created.status).toBe(201);
      const path = '/v1/products/pear';
      const fresh = { 'streamfold-min-position': created.body.position };
      expect((await get(base, path, fresh)).status).toBe(200);
      await until(
        'a cache hit',
        async () => (await get(base, path)).headers.get('streamfold-cache') === 'hit',
      );

      await redis.kill();
      for (let i = 0; i < 20; i++) expect((await get(base, path)).status).toBe(200);
      const restocked = await post<{ position: string }>(base, `${path}/restock`, { quantity: 5 });
      expect(restocked.status).toBe(200);
      const after = await get(base, path, { 'streamfold-min-position': restocked.body.position });
      expect(after.status).toBe(200);
      expect(after.body.available).toBe(105);
    } finally {
      await system.stop();
      await redis.stop();
    }
  });
});
