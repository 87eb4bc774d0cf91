/**
 * Read-through access to read-model documents, serialised once and cached with the position
 * they reflect. Projectors invalidate what they change (see `cache-invalidation.ts`).
 */
import type { Cache } from './cache.js';
import type { ReadStore } from '../projections/read-store.js';
import type { Position } from '../streams/event-store.js';

export type DocumentBody = Readonly<{ body: string; position: Position }>;

export type DocumentReader = Readonly<{
  /** The document as JSON text, or undefined when it does not exist. */
  get(collection: string, id: string): Promise<DocumentBody | undefined>;
}>;

export function cacheKey(collection: string, id: string): string {
  return `${collection}:${id}`;
}

export function createDocumentReader(options: { store: ReadStore; cache: Cache }): DocumentReader {
  const { store, cache } = options;
  // Concurrent misses on one key share one store read.
  const loading = new Map<string, Promise<DocumentBody | undefined>>();

  async function load(collection: string, id: string, key: string) {
    const doc = await store.get(collection, id);
    if (doc === undefined) return undefined;
    const entry = { body: JSON.stringify(doc.value), position: doc.position };
    await cache.set(key, { value: entry.body, position: entry.position }).catch(() => false);
    return entry;
  }

  return {
    async get(collection, id) {
      const key = cacheKey(collection, id);
      const hit = await cache.get(key).catch(() => undefined);
      if (hit !== undefined) return { body: hit.value, position: hit.position };
      let pending = loading.get(key);
      if (pending === undefined) {
        pending = load(collection, id, key).finally(() => loading.delete(key));
        loading.set(key, pending);
      }
      return pending;
    },
  };
}
