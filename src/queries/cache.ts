/**
 * The Cache port: read-through cache of query results in front of the read store.
 * Adapters: `memory/` (in-process LRU), `redis/` (Redis). The cache is never a source of
 * truth; every adapter passes `test/contract/cache.contract.ts`.
 */
import type { Position } from '../streams/event-store.js';

export type CacheEntry = Readonly<{
  /** The serialised value, ready to send. */
  value: string;
  /** The log position the value reflects. */
  position: Position;
}>;

export type CacheSetOptions = Readonly<{
  /** @default the adapter's default TTL */
  ttlMs?: number;
}>;

export interface Cache {
  get(key: string): Promise<CacheEntry | undefined>;

  /**
   * `get` answered at once, offered only by adapters that hold their entries in this process
   * (not by Redis). Queries use it to answer a hit without awaiting anything. Throws where
   * `get` would reject.
   */
  getSync?(key: string): CacheEntry | undefined;

  /**
   * Stores the entry unless the key already holds a newer one, or was invalidated at a
   * position after the entry's. Resolves true when stored. This is what keeps a slow reader
   * from putting back a value older than the store's, while the value written at the
   * invalidation position itself can be cached at once.
   */
  set(key: string, entry: CacheEntry, options?: CacheSetOptions): Promise<boolean>;

  /** Drops the keys and remembers `position`, so values older than it cannot be set again. */
  invalidate(keys: readonly string[], position: Position): Promise<void>;

  close(): Promise<void>;
}
