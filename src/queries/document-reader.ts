/**
 * Read-through access to read-model documents, serialised once and cached with the position
 * they reflect. Projectors invalidate what they change (see `cache-invalidation.ts`).
 *
 * The cache is an optimisation, never a dependency: any cache failure (Redis down, timing out,
 * its circuit open) turns into a read from the store, and the query still answers.
 */
import type { Cache, CacheEntry } from './cache.js';
import type { ReadStore } from '../projections/read-store.js';
import type { Position } from '../streams/event-store.js';

export type DocumentBody = Readonly<{
  body: string;
  position: Position;
  /** Where the body came from; sent to clients as `Streamfold-Cache: hit | miss`. */
  source: 'cache' | 'store';
}>;

export type ReadOptions = Readonly<{
  /**
   * Read the store, not the cache, and do not join a load that is already in flight. For
   * read-your-writes: once the projection has passed the caller's position the store holds the
   * write, but the cache may still hold the previous version for a moment (the projector
   * invalidates after it reports progress), and an in-flight load may have started before the
   * write. The fresh value then refreshes the cache. @default false
   */
  fresh?: boolean;
}>;

export type ReaderStats = Readonly<{
  hits: number;
  misses: number;
  /** Cache calls that failed and were answered from the store. */
  cacheErrors: number;
}>;

export type DocumentReader = Readonly<{
  /** The document as JSON text, or undefined when it does not exist. */
  get(collection: string, id: string, options?: ReadOptions): Promise<DocumentBody | undefined>;
  /**
   * The document from the cache, synchronously, when the cache can answer at once (the
   * in-process one) and holds it; otherwise undefined, and `get` has the answer. A cache hit
   * is the commonest read, so it should not cost a promise.
   */
  cached(collection: string, id: string): DocumentBody | undefined;
  /** Counters since start, for the hit ratio. */
  stats(): ReaderStats;
}>;

export type DocumentReaderOptions = Readonly<{
  store: ReadStore;
  cache: Cache;
  /** Told about each failed cache call; the read itself goes on from the store. @default none */
  onCacheError?: (error: unknown) => void;
}>;

export function cacheKey(collection: string, id: string): string {
  return `${collection}:${id}`;
}

export function createDocumentReader(options: DocumentReaderOptions): DocumentReader {
  const { store, cache, onCacheError } = options;
  // Concurrent misses on one key share one store read.
  const loading = new Map<string, Promise<DocumentBody | undefined>>();
  const stats = { hits: 0, misses: 0, cacheErrors: 0 };

  function cacheFailed(error: unknown): undefined {
    stats.cacheErrors++;
    onCacheError?.(error);
    return undefined;
  }

  async function load(collection: string, id: string, key: string) {
    const doc = await store.get(collection, id);
    if (doc === undefined) return undefined;
    const body = JSON.stringify(doc.value);
    // The set is position-guarded: if the projector invalidated this key at a newer position
    // while we were loading, the cache refuses this older value.
    await cache.set(key, { value: body, position: doc.position }).catch(cacheFailed);
    return { body, position: doc.position, source: 'store' } as const;
  }

  function sharedLoad(collection: string, id: string, key: string) {
    let pending = loading.get(key);
    if (pending === undefined) {
      pending = load(collection, id, key).finally(() => loading.delete(key));
      loading.set(key, pending);
    }
    return pending;
  }

  return {
    async get(collection, id, readOptions) {
      const key = cacheKey(collection, id);
      if (readOptions?.fresh === true) {
        stats.misses++;
        return load(collection, id, key);
      }
      const hit = await cache.get(key).catch(cacheFailed);
      if (hit !== undefined) {
        stats.hits++;
        return { body: hit.value, position: hit.position, source: 'cache' };
      }
      stats.misses++;
      return sharedLoad(collection, id, key);
    },
    cached(collection, id) {
      if (cache.getSync === undefined) return undefined;
      let hit: CacheEntry | undefined;
      try {
        hit = cache.getSync(cacheKey(collection, id));
      } catch {
        // `get` meets the same failure, reports it and reads the store.
        return undefined;
      }
      if (hit === undefined) return undefined;
      stats.hits++;
      return { body: hit.value, position: hit.position, source: 'cache' };
    },
    stats: () => ({ ...stats }),
  };
}
