/**
 * The embedded Cache: an in-process LRU with a TTL per entry, plus a second, bounded LRU of
 * invalidation markers that keeps slow readers from putting stale values back.
 */
import { LRUCache } from 'lru-cache';
import { ClosedError, ConfigError, ValidationError } from '../../errors.js';
import { comparePositions } from '../../streams/position.js';
import type { Position } from '../../streams/event-store.js';
import type { Cache, CacheEntry, CacheSetOptions } from '../cache.js';

export type MemoryCacheOptions = Readonly<{
  /** Entries kept before the least recently used are evicted; also bounds the markers. @default 10_000 */
  maxEntries?: number;
  /** Lifetime of an entry set without `ttlMs`, in milliseconds. @default 60_000 */
  defaultTtlMs?: number;
}>;

export function createMemoryCache(options: MemoryCacheOptions = {}): Cache {
  const { maxEntries = 10_000, defaultTtlMs = 60_000 } = options;
  if (!isPositiveInteger(maxEntries)) {
    throw new ConfigError('maxEntries must be a positive integer', { maxEntries });
  }
  if (!isPositiveInteger(defaultTtlMs)) {
    throw new ConfigError('defaultTtlMs must be a positive integer', { defaultTtlMs });
  }

  const entries = new LRUCache<string, CacheEntry>({ max: maxEntries, ttl: defaultTtlMs });
  /**
   * The last invalidation position per key. Markers are evicted like entries, and an evicted
   * marker forgets its position: a reader that loaded a value before that invalidation could
   * then still set it. The harm is bounded twice over. Only values older than the evicted
   * marker can slip in, and the set is refused anyway if a newer entry is already cached; and
   * whatever slips in expires after its TTL, so a stale value is served for at most one TTL,
   * the same staleness a TTL cache accepts anyway. Sizing markers like entries keeps a marker
   * alive far longer than the few milliseconds a reader's load takes.
   */
  const invalidatedAt = new LRUCache<string, Position>({ max: maxEntries });
  let closed = false;

  function assertOpen(): void {
    if (closed) throw new ClosedError('Memory cache');
  }

  function getSync(key: string): CacheEntry | undefined {
    assertOpen();
    return entries.get(key);
  }

  return {
    get(key) {
      return settle(() => getSync(key));
    },

    getSync,

    set(key, entry, setOptions?: CacheSetOptions) {
      return settle(() => {
        assertOpen();
        const ttl = setOptions?.ttlMs ?? defaultTtlMs;
        if (!isPositiveInteger(ttl)) {
          throw new ValidationError('ttlMs must be a positive integer', { ttlMs: ttl });
        }
        // peek: checking the current entry must not refresh its recency; expired ones count as gone.
        const current = entries.peek(key);
        if (current !== undefined && comparePositions(current.position, entry.position) > 0) {
          return false;
        }
        const marker = invalidatedAt.peek(key);
        if (marker !== undefined && comparePositions(marker, entry.position) > 0) return false;
        entries.set(key, { value: entry.value, position: entry.position }, { ttl });
        return true;
      });
    },

    invalidate(keys, position) {
      return settle(() => {
        assertOpen();
        for (const key of keys) {
          entries.delete(key);
          // Keep the latest position: a late, older invalidation must not lower the bar.
          const marker = invalidatedAt.peek(key);
          if (marker === undefined || comparePositions(position, marker) > 0) {
            invalidatedAt.set(key, position);
          }
        }
      });
    },

    /** Idempotent; every other method rejects with ClosedError afterwards. */
    close() {
      return settle(() => {
        closed = true;
        entries.clear();
        invalidatedAt.clear();
      });
    },
  };
}

/** lru-cache is synchronous; a throw becomes a rejection, as callers of the port expect. */
function settle<T>(action: () => T): Promise<T> {
  return new Promise((resolve) => resolve(action()));
}

function isPositiveInteger(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0;
}
