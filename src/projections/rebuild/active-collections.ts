/**
 * Which physical collection each projection's queries read now. Query code names a
 * projection's collection by `collectionName(projection)`; this map turns that name into the
 * registry's active generation, from memory, so a query costs no registry read.
 *
 * The process that switches a projection refreshes the map at once (in-process callback).
 * Other processes sharing the read store (for example `api` processes) see a switch within one
 * poll interval; until then they read the previous generation, which is kept for a grace
 * period far longer than that interval, so they never read a dropped collection.
 */
import type { DocumentReader } from '../../queries/document-reader.js';
import type { Projection } from '../projection.js';
import { collectionName } from '../projector.js';
import type { ReadStore } from '../read-store.js';
import type { ProjectionRegistry } from './registry.js';

export type ActiveCollections = Readonly<{
  /** The physical collection behind a query's collection name; other names pass through. */
  resolve(collection: string): string;
  /** Re-reads the registry. */
  refresh(): Promise<void>;
  /** Polls the registry every `pollMs` until `stop()`. */
  start(): void;
  stop(): Promise<void>;
}>;

export type ActiveCollectionsOptions = Readonly<{
  registry: ProjectionRegistry;
  projections: readonly Pick<Projection, 'name' | 'version'>[];
  /** How often other processes' switches are picked up. @default 1000 */
  pollMs?: number;
  /** Told when a poll fails; the previous answer stays in use. @default none */
  onError?: (error: unknown) => void;
}>;

export function createActiveCollections(options: ActiveCollectionsOptions): ActiveCollections {
  const { registry, projections, pollMs = 1000, onError } = options;
  const byName = new Map(projections.map((p) => [p.name, collectionName(p)]));
  let routes = new Map<string, string>();
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<void> = Promise.resolve();
  let stopped = false;

  async function refresh(): Promise<void> {
    const next = new Map<string, string>();
    for (const entry of await registry.list()) {
      const logical = byName.get(entry.name);
      if (logical !== undefined) next.set(logical, entry.active.collection);
    }
    routes = next;
  }

  function poll(): void {
    if (stopped) return;
    polling = refresh().catch((error: unknown) => onError?.(error));
    timer = setTimeout(() => void polling.then(poll), pollMs);
    timer.unref();
  }

  return {
    resolve: (collection) => routes.get(collection) ?? collection,
    refresh,
    start() {
      if (timer === undefined) poll();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await polling;
    },
  };
}

/** A read store whose reads go to the active generation; writes are not routed. */
export function routeReadStore(
  store: ReadStore,
  active: Pick<ActiveCollections, 'resolve'>,
): ReadStore {
  return {
    ensureCollection: (spec) => store.ensureCollection(spec),
    get: (collection, id) => store.get(active.resolve(collection), id),
    getMany: (collection, ids) => store.getMany(active.resolve(collection), ids),
    find: (collection, query) => store.find(active.resolve(collection), query),
    bulkWrite: (collection, ops, checkpoint) => store.bulkWrite(collection, ops, checkpoint),
    getCheckpoint: (id) => store.getCheckpoint(id),
    putCheckpoint: (checkpoint) => store.putCheckpoint(checkpoint),
    deleteCheckpoint: (id) => store.deleteCheckpoint(id),
    listCollections: () => store.listCollections(),
    dropCollection: (name) => store.dropCollection(name),
    close: () => store.close(),
  };
}

/**
 * A document reader on the active generation. Cache keys start with the physical collection,
 * so switching generations also switches the cache namespace: no stale entry of the previous
 * generation can answer.
 */
export function routeDocuments(
  reader: DocumentReader,
  active: Pick<ActiveCollections, 'resolve'>,
): DocumentReader {
  return {
    get: (collection, id, options) => reader.get(active.resolve(collection), id, options),
    cached: (collection, id) => reader.cached(active.resolve(collection), id),
    stats: () => reader.stats(),
  };
}
