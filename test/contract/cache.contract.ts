/**
 * The Cache contract: every adapter runs these assertions through the port alone. Keys carry
 * a random prefix per test, so a shared server (Redis) needs no flushing between tests.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClosedError } from '../../src/errors.js';
import type { Cache, CacheEntry } from '../../src/queries/cache.js';

export type CacheFactory = () => Promise<{ cache: Cache; teardown: () => Promise<void> }>;

const pos = (n: number): string => String(n).padStart(20, '0');
const entry = (n: number, value = `v${n}`): CacheEntry => ({ value, position: pos(n) });

export type CacheTraits = Readonly<{
  /** Whether the adapter answers hits synchronously (`getSync`), as in-process caches can. */
  synchronousGet: boolean;
}>;

export function cacheContract(name: string, factory: CacheFactory, traits: CacheTraits): void {
  describe(`Cache contract: ${name}`, () => {
    let cache: Cache;
    let teardown: () => Promise<void>;
    let key: (name: string) => string;

    beforeEach(async () => {
      ({ cache, teardown } = await factory());
      const prefix = `contract:${randomUUID()}`;
      key = (suffix) => `${prefix}:${suffix}`;
    });
    afterEach(async () => {
      await teardown();
    });

    it('a miss returns undefined', async () => {
      expect(await cache.get(key('missing'))).toBeUndefined();
    });

    it('returns what was set, value and position', async () => {
      expect(await cache.set(key('a'), entry(1, '{"total":10}'))).toBe(true);
      expect(await cache.get(key('a'))).toEqual({ value: '{"total":10}', position: pos(1) });
    });

    it('replaces an entry with a newer or equal one', async () => {
      await cache.set(key('a'), entry(1));
      expect(await cache.set(key('a'), entry(2))).toBe(true);
      expect(await cache.set(key('a'), entry(2, 'again'))).toBe(true);
      expect(await cache.get(key('a'))).toEqual(entry(2, 'again'));
    });

    it('an entry expires after its TTL', async () => {
      const start = performance.now();
      await cache.set(key('short'), entry(1), { ttlMs: 50 });
      const early = await cache.get(key('short'));
      // On a loaded machine the first read may itself come after 50 ms; only judge it if not.
      if (performance.now() - start < 40) expect(early).toEqual(entry(1));
      await cache.set(key('long'), entry(1), { ttlMs: 60_000 });
      await sleep(150);
      expect(await cache.get(key('short'))).toBeUndefined();
      expect(await cache.get(key('long'))).toEqual(entry(1));
    });

    it('refuses an entry older than the one it holds', async () => {
      await cache.set(key('a'), entry(5));
      expect(await cache.set(key('a'), entry(4))).toBe(false);
      expect(await cache.get(key('a'))).toEqual(entry(5));
    });

    it('refuses an entry older than the position of an invalidation', async () => {
      await cache.set(key('a'), entry(1));
      await cache.invalidate([key('a')], pos(3));
      expect(await cache.get(key('a'))).toBeUndefined();
      expect(await cache.set(key('a'), entry(2))).toBe(false);
      expect(await cache.get(key('a'))).toBeUndefined();
    });

    it('accepts the value written at the invalidation position, and newer ones', async () => {
      // The projector invalidates at the position of the document it just wrote, so the
      // fresh document must be cacheable at once.
      await cache.invalidate([key('a')], pos(3));
      expect(await cache.set(key('a'), entry(3))).toBe(true);
      expect(await cache.get(key('a'))).toEqual(entry(3));
      expect(await cache.set(key('a'), entry(4))).toBe(true);
      expect(await cache.get(key('a'))).toEqual(entry(4));
    });

    it('a late, older invalidation does not lower the bar set by a newer one', async () => {
      await cache.invalidate([key('a')], pos(5));
      await cache.invalidate([key('a')], pos(2));
      expect(await cache.set(key('a'), entry(4))).toBe(false);
      expect(await cache.set(key('a'), entry(5))).toBe(true);
    });

    it('invalidates several keys at once and leaves the others', async () => {
      await Promise.all(['a', 'b', 'c'].map((k) => cache.set(key(k), entry(1))));
      await cache.invalidate([key('a'), key('b'), key('never-set')], pos(2));
      expect(await cache.get(key('a'))).toBeUndefined();
      expect(await cache.get(key('b'))).toBeUndefined();
      expect(await cache.get(key('c'))).toEqual(entry(1));
      expect(await cache.set(key('never-set'), entry(1))).toBe(false);
      expect(await cache.set(key('b'), entry(3))).toBe(true);
    });

    it('a slow reader cannot put back a value older than a concurrent write', async () => {
      // The reader loads the document at position 1 from the store...
      const loaded = entry(1, 'v1');
      // ...meanwhile the projector writes position 2 and invalidates the key...
      await cache.invalidate([key('doc')], pos(2));
      // ...and only then does the reader's set arrive.
      expect(await cache.set(key('doc'), loaded)).toBe(false);
      const seen = await cache.get(key('doc'));
      expect(seen === undefined || seen.position === pos(2)).toBe(true);

      // Values past the invalidation are cached again, and the stale one still stays out.
      expect(await cache.set(key('doc'), entry(3, 'v3'))).toBe(true);
      expect(await cache.set(key('doc'), loaded)).toBe(false);
      expect(await cache.get(key('doc'))).toEqual(entry(3, 'v3'));
    });

    it('rejects calls after close with ClosedError', async () => {
      await cache.close();
      await expect(cache.get(key('a'))).rejects.toThrow(ClosedError);
      await expect(cache.set(key('a'), entry(1))).rejects.toThrow(ClosedError);
      await expect(cache.invalidate([key('a')], pos(1))).rejects.toThrow(ClosedError);
    });

    if (!traits.synchronousGet) {
      it('offers no synchronous get, so readers take the asynchronous path', () => {
        expect(cache).not.toHaveProperty('getSync');
      });
      return;
    }

    it('getSync answers what get answers', async () => {
      const getSync = (name: string) => cache.getSync?.(key(name));
      expect(getSync('a')).toBeUndefined();
      await cache.set(key('a'), entry(1));
      expect(getSync('a')).toEqual(await cache.get(key('a')));
      await cache.invalidate([key('a')], pos(2));
      expect(getSync('a')).toBeUndefined();
      await cache.set(key('short'), entry(1), { ttlMs: 20 });
      await sleep(80);
      expect(getSync('short')).toBeUndefined();
      await cache.close();
      expect(() => getSync('a')).toThrow(ClosedError);
    });
  });
}
