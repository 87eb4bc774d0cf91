import { describe, expect, it } from 'vitest';
import { createSqliteReadStore } from '../../src/projections/sqlite/sqlite-read-store.js';
import type { ReadStore } from '../../src/projections/read-store.js';
import type { Cache } from '../../src/queries/cache.js';
import { cacheKey, createDocumentReader } from '../../src/queries/document-reader.js';
import { createMemoryCache } from '../../src/queries/memory/memory-cache.js';
import { interleavings, runRace } from '../support/reader-race.js';

const pos = (n: number): string => String(n).padStart(20, '0');
const COLLECTION = 'things_v1';

async function storeWith(docs: Record<string, number>): Promise<ReadStore> {
  const store = createSqliteReadStore({ path: ':memory:' });
  await store.ensureCollection({ name: COLLECTION, indexes: [] });
  await store.bulkWrite(
    COLLECTION,
    Object.entries(docs).map(([id, n]) => ({ kind: 'upsert', id, position: pos(n), value: { n } })),
  );
  return store;
}

/** A cache whose every call fails, as a dead Redis behind its adapter does. */
const brokenCache: Cache = {
  get: () => Promise.reject(new Error('down')),
  set: () => Promise.reject(new Error('down')),
  invalidate: () => Promise.reject(new Error('down')),
  close: () => Promise.resolve(),
};

/** Counts store reads, to see single flight. */
function counting(store: ReadStore): { store: ReadStore; reads: () => number } {
  let reads = 0;
  const counted = Object.assign(Object.create(store) as ReadStore, {
    get: (collection: string, id: string) => {
      reads++;
      return store.get(collection, id);
    },
  });
  return { store: counted, reads: () => reads };
}

describe('document reader', () => {
  describe('an update racing a miss never leaves an older document in the cache (memory)', () => {
    for (const order of interleavings()) {
      it(order.join(' → '), async () => {
        const cache = createMemoryCache();
        const outcome = await runRace(cache, order);
        expect(outcome.storePosition).toBe(pos(2));
        expect([undefined, pos(2)]).toContain(outcome.cachedPosition);
        expect(outcome.nextRead).toBe('{"v":2}');
        await cache.close();
      });
    }
  });

  it('serves from the cache after the first read, and says where each body came from', async () => {
    const store = await storeWith({ a: 1 });
    const reader = createDocumentReader({ store, cache: createMemoryCache() });
    expect(await reader.get(COLLECTION, 'a')).toEqual({
      body: '{"n":1}',
      position: pos(1),
      source: 'store',
    });
    expect(await reader.get(COLLECTION, 'a')).toEqual({
      body: '{"n":1}',
      position: pos(1),
      source: 'cache',
    });
    expect(await reader.get(COLLECTION, 'missing')).toBeUndefined();
    expect(reader.stats()).toEqual({ hits: 1, misses: 2, cacheErrors: 0 });
    await store.close();
  });

  it('cached answers a cache hit synchronously, and nothing else', async () => {
    const store = await storeWith({ a: 1 });
    const cache = createMemoryCache();
    const reader = createDocumentReader({ store, cache });
    expect(reader.cached(COLLECTION, 'a')).toBeUndefined();
    await reader.get(COLLECTION, 'a');
    expect(reader.cached(COLLECTION, 'a')).toEqual({
      body: '{"n":1}',
      position: pos(1),
      source: 'cache',
    });
    expect(reader.cached(COLLECTION, 'missing')).toBeUndefined();
    await cache.invalidate([cacheKey(COLLECTION, 'a')], pos(2));
    expect(reader.cached(COLLECTION, 'a')).toBeUndefined();
    expect(reader.stats()).toEqual({ hits: 1, misses: 1, cacheErrors: 0 });
    await store.close();
  });

  it('cached leaves a cache without a synchronous get, or a failing one, to get', async () => {
    const store = await storeWith({ a: 1 });
    const seen: unknown[] = [];
    const remote = createDocumentReader({ store, cache: brokenCache });
    expect(remote.cached(COLLECTION, 'a')).toBeUndefined();
    const closed = createMemoryCache();
    await closed.close();
    const reader = createDocumentReader({
      store,
      cache: closed,
      onCacheError: (error) => seen.push(error),
    });
    expect(reader.cached(COLLECTION, 'a')).toBeUndefined();
    expect(seen).toHaveLength(0);
    expect((await reader.get(COLLECTION, 'a'))?.body).toBe('{"n":1}');
    // get's own failed lookup and failed set; cached reported nothing twice.
    expect(seen).toHaveLength(2);
    await store.close();
  });

  it('concurrent misses on one key read the store once', async () => {
    const base = await storeWith({ a: 1 });
    const { store, reads } = counting(base);
    const reader = createDocumentReader({ store, cache: createMemoryCache() });
    const bodies = await Promise.all(Array.from({ length: 20 }, () => reader.get(COLLECTION, 'a')));
    expect(new Set(bodies.map((doc) => doc?.body))).toEqual(new Set(['{"n":1}']));
    expect(reads()).toBe(1);
    await base.close();
  });

  it('falls back to the store on every cache failure, and counts them', async () => {
    const store = await storeWith({ a: 1, b: 2 });
    const seen: unknown[] = [];
    const reader = createDocumentReader({
      store,
      cache: brokenCache,
      onCacheError: (error) => seen.push(error),
    });
    expect((await reader.get(COLLECTION, 'a'))?.body).toBe('{"n":1}');
    expect((await reader.get(COLLECTION, 'b'))?.body).toBe('{"n":2}');
    expect(await reader.get(COLLECTION, 'missing')).toBeUndefined();
    // get and set fail for each found document; only get for the missing one.
    expect(reader.stats()).toEqual({ hits: 0, misses: 3, cacheErrors: 5 });
    expect(seen).toHaveLength(5);
    await store.close();
  });

  it('a fresh read skips a stale cached copy and an in-flight load, then refreshes the cache', async () => {
    const store = await storeWith({ a: 1 });
    const cache = createMemoryCache();
    const reader = createDocumentReader({ store, cache });
    await reader.get(COLLECTION, 'a');
    // The store has moved on, and the projector has not invalidated yet.
    await store.bulkWrite(COLLECTION, [
      { kind: 'upsert', id: 'a', position: pos(2), value: { n: 2 } },
    ]);
    expect((await reader.get(COLLECTION, 'a'))?.body).toBe('{"n":1}');
    expect(await reader.get(COLLECTION, 'a', { fresh: true })).toEqual({
      body: '{"n":2}',
      position: pos(2),
      source: 'store',
    });
    expect(await cache.get(cacheKey(COLLECTION, 'a'))).toEqual({
      value: '{"n":2}',
      position: pos(2),
    });
    await store.close();
  });
});
