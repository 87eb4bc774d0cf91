import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ConfigError, ValidationError } from '../../src/errors.js';
import { createMemoryCache } from '../../src/queries/memory/memory-cache.js';
import { cacheContract } from './cache.contract.js';

const pos = (n: number): string => String(n).padStart(20, '0');

cacheContract(
  'memory',
  () => {
    const cache = createMemoryCache();
    return Promise.resolve({ cache, teardown: () => cache.close() });
  },
  { synchronousGet: true },
);

describe('memory cache', () => {
  it('evicts the least recently used entry beyond maxEntries', async () => {
    const cache = createMemoryCache({ maxEntries: 2 });
    await cache.set('a', { value: 'a', position: pos(1) });
    await cache.set('b', { value: 'b', position: pos(1) });
    await cache.get('a');
    await cache.set('c', { value: 'c', position: pos(1) });
    expect(await cache.get('b')).toBeUndefined();
    expect(await cache.get('a')).toBeDefined();
    expect(await cache.get('c')).toBeDefined();
    await cache.close();
  });

  it('applies defaultTtlMs to entries set without a TTL', async () => {
    const cache = createMemoryCache({ defaultTtlMs: 50 });
    await cache.set('a', { value: 'a', position: pos(1) });
    await sleep(150);
    expect(await cache.get('a')).toBeUndefined();
    await cache.close();
  });

  it('an expired entry no longer blocks an older set', async () => {
    const cache = createMemoryCache();
    await cache.set('a', { value: 'new', position: pos(5) }, { ttlMs: 20 });
    await sleep(80);
    expect(await cache.set('a', { value: 'old', position: pos(4) })).toBe(true);
    await cache.close();
  });

  it('forgets the oldest invalidation markers beyond maxEntries', async () => {
    // The documented limit: once a marker is evicted, an older value can be set again, and
    // then lives only until its TTL.
    const cache = createMemoryCache({ maxEntries: 2 });
    await cache.invalidate(['a'], pos(5));
    await cache.invalidate(['b', 'c'], pos(5));
    expect(await cache.set('b', { value: 'old', position: pos(4) })).toBe(false);
    expect(await cache.set('a', { value: 'old', position: pos(4) })).toBe(true);
    await cache.close();
  });

  it('rejects malformed options with ConfigError and a bad ttlMs with ValidationError', async () => {
    expect(() => createMemoryCache({ maxEntries: 0 })).toThrow(ConfigError);
    expect(() => createMemoryCache({ defaultTtlMs: -1 })).toThrow(ConfigError);
    expect(() => createMemoryCache({ defaultTtlMs: Number.POSITIVE_INFINITY })).toThrow(
      ConfigError,
    );
    const cache = createMemoryCache();
    await expect(cache.set('a', { value: 'a', position: pos(1) }, { ttlMs: 0 })).rejects.toThrow(
      ValidationError,
    );
    await cache.close();
  });

  it('close is idempotent', async () => {
    const cache = createMemoryCache();
    await cache.close();
    await expect(cache.close()).resolves.toBeUndefined();
  });
});
