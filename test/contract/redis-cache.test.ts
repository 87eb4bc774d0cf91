/**
 * The Cache contract against the shared Redis, plus what only Redis has: atomic scripts shared
 * by several clients, key layout, and failing fast when the server is gone.
 */
import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { ClosedError, ConfigError, ValidationError } from '../../src/errors.js';
import type { Cache } from '../../src/queries/cache.js';
import { createRedisCache, type RedisCacheOptions } from '../../src/queries/redis/redis-cache.js';
import { REDIS_URL, requireService } from '../support/services.js';
import { interleavings, runRace } from '../support/reader-race.js';
import { cacheContract } from './cache.contract.js';

const ok = await requireService('Redis', REDIS_URL, 'Redis cache contract');
const runPrefix = `streamfold-test:${randomUUID()}:`;
const pos = (n: number): string => String(n).padStart(20, '0');

/** Generous timeouts: the machine is shared, and a timed-out command would fail a contract test. */
function redisCache(overrides: Partial<RedisCacheOptions> = {}): Cache {
  return createRedisCache({
    url: REDIS_URL,
    keyPrefix: runPrefix,
    commandTimeoutMs: 5000,
    ...overrides,
  });
}

/** Deletes every key this run created. */
async function removeRunKeys(): Promise<number> {
  const admin = createClient({ url: REDIS_URL });
  await admin.connect();
  let removed = 0;
  try {
    for await (const keys of admin.scanIterator({ MATCH: `${runPrefix}*`, COUNT: 500 })) {
      if (keys.length > 0) removed += await admin.del(keys);
    }
  } finally {
    admin.destroy();
  }
  return removed;
}

describe.skipIf(!ok)('Redis cache', () => {
  afterAll(async () => {
    await removeRunKeys();
  });

  cacheContract(
    'redis',
    () => {
      const cache = redisCache();
      return Promise.resolve({ cache, teardown: () => cache.close() });
    },
    { synchronousGet: false },
  );

  describe('an update racing a miss never leaves an older document in the cache', () => {
    for (const order of interleavings()) {
      it(order.join(' → '), async () => {
        // Reader and projector in different clients, as in different processes.
        const readerSide = redisCache();
        const projectorSide = redisCache();
        const outcome = await runRace(readerSide, order, projectorSide);
        expect(outcome.storePosition).toBe(pos(2));
        expect([undefined, pos(2)]).toContain(outcome.cachedPosition);
        expect(outcome.nextRead).toBe('{"v":2}');
        await Promise.all([readerSide.close(), projectorSide.close()]);
      });
    }
  });

  it('two clients share entries and markers: a stale set from one is refused after the other invalidates', async () => {
    const reader = redisCache();
    const projector = redisCache();
    const key = `shared:${randomUUID()}`;
    await projector.invalidate([key], pos(7));
    expect(await reader.set(key, { value: 'old', position: pos(6) })).toBe(false);
    expect(await reader.set(key, { value: 'new', position: pos(7) })).toBe(true);
    expect(await projector.get(key)).toEqual({ value: 'new', position: pos(7) });
    await Promise.all([reader.close(), projector.close()]);
  });

  it('compares positions byte by byte, whatever the server locale', async () => {
    const cache = redisCache();
    const key = `order:${randomUUID()}`;
    // Under a natural-language collation ':' and '-' may sort unlike their byte values.
    await cache.set(key, { value: 'b', position: '0000:0010' });
    expect(await cache.set(key, { value: 'a', position: '0000-0011' })).toBe(false);
    expect(await cache.set(key, { value: 'c', position: '0000;0000' })).toBe(true);
    await cache.close();
  });

  it('many concurrent sets of different positions leave the newest', async () => {
    const cache = redisCache();
    const key = `race:${randomUUID()}`;
    const order = Array.from({ length: 50 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
    await Promise.all(order.map((n) => cache.set(key, { value: `v${n}`, position: pos(n) })));
    expect(await cache.get(key)).toEqual({ value: 'v50', position: pos(50) });
    await cache.close();
  });

  it('keys live under the prefix, with a TTL on entries and markers', async () => {
    const cache = redisCache();
    const key = `layout:${randomUUID()}`;
    await cache.set(key, { value: 'x', position: pos(1) }, { ttlMs: 30_000 });
    await cache.invalidate([`${key}:other`], pos(1));
    const admin = createClient({ url: REDIS_URL });
    await admin.connect();
    const found: string[] = [];
    for await (const keys of admin.scanIterator({ MATCH: `${runPrefix}{${key}*`, COUNT: 500 })) {
      found.push(...keys);
    }
    expect(found.sort()).toEqual([
      `${runPrefix}{${key}:other}:invalidated`,
      `${runPrefix}{${key}}`,
    ]);
    for (const redisKey of found) {
      const ttl = await admin.pTTL(redisKey);
      expect(ttl).toBeGreaterThan(0);
    }
    admin.destroy();
    await cache.close();
  });

  it('rejects malformed options with ConfigError and a bad ttlMs with ValidationError', async () => {
    expect(() => createRedisCache({ url: 'http://localhost:6379' })).toThrow(ConfigError);
    expect(() => createRedisCache({ url: REDIS_URL, defaultTtlMs: 0 })).toThrow(ConfigError);
    expect(() => createRedisCache({ url: REDIS_URL, breaker: { failureThreshold: 0 } })).toThrow(
      ConfigError,
    );
    const cache = redisCache();
    await expect(cache.set('a', { value: 'a', position: pos(1) }, { ttlMs: -5 })).rejects.toThrow(
      ValidationError,
    );
    await cache.close();
    await expect(cache.close()).resolves.toBeUndefined();
    await expect(cache.get('a')).rejects.toThrow(ClosedError);
  });
});
