/**
 * Every interleaving of one reader's miss (cache get → store get → cache set) with one
 * projector update (store write → cache invalidate), stepped deterministically. Whatever the
 * order, the cache must end up holding nothing or the store's current version, never the older
 * one the reader loaded.
 */
import { randomUUID } from 'node:crypto';
import { createSqliteReadStore } from '../../src/projections/sqlite/sqlite-read-store.js';
import type { ReadStore } from '../../src/projections/read-store.js';
import type { Cache } from '../../src/queries/cache.js';
import { cacheKey, createDocumentReader } from '../../src/queries/document-reader.js';

const pos = (n: number): string => String(n).padStart(20, '0');
const COLLECTION = 'race_view_v1';

export type Interleaving = readonly ('reader' | 'writer')[];

/** The 10 ways to interleave the reader's 3 steps with the writer's 2, each side in order. */
export function interleavings(): Interleaving[] {
  const all: Interleaving[] = [];
  for (let a = 0; a < 5; a++) {
    for (let b = a + 1; b < 5; b++) {
      all.push(Array.from({ length: 5 }, (_, i) => (i === a || i === b ? 'writer' : 'reader')));
    }
  }
  return all;
}

/** Lets the driver run one reader step at a time. */
class Stepper {
  #waiting: (() => void) | undefined;
  #arrived: (() => void) | undefined;
  #finished: (() => void) | undefined;

  /** Called by the reader before a step; resolves when the driver grants it. */
  async step<T>(action: () => Promise<T>): Promise<T> {
    await new Promise<void>((resolve) => {
      this.#waiting = resolve;
      this.#arrived?.();
    });
    try {
      return await action();
    } finally {
      this.#finished?.();
    }
  }

  /** Runs the reader's next step to completion. */
  async grant(): Promise<void> {
    if (this.#waiting === undefined) {
      await new Promise<void>((resolve) => (this.#arrived = resolve));
    }
    const go = this.#waiting;
    this.#waiting = undefined;
    const finished = new Promise<void>((resolve) => (this.#finished = resolve));
    go?.();
    await finished;
  }
}

function steppedCache(cache: Cache, stepper: Stepper): Cache {
  return {
    get: (key) => stepper.step(() => cache.get(key)),
    set: (key, entry, options) => stepper.step(() => cache.set(key, entry, options)),
    invalidate: (keys, position) => cache.invalidate(keys, position),
    close: () => cache.close(),
  };
}

function steppedStore(store: ReadStore, stepper: Stepper): ReadStore {
  return Object.assign(Object.create(store) as ReadStore, {
    get: (collection: string, id: string) => stepper.step(() => store.get(collection, id)),
  });
}

export type RaceOutcome = Readonly<{
  /** What the cache holds for the document at the end, if anything. */
  cachedPosition: string | undefined;
  storePosition: string | undefined;
  /** What a later read through the reader returns. */
  nextRead: string | undefined;
}>;

/** Runs one interleaving, the reader on `cache`, and reports where the cache ended up. */
export async function runRace(
  cache: Cache,
  order: Interleaving,
  /** The projector's cache client, for Redis a different connection. @default cache */
  writerCache: Cache = cache,
): Promise<RaceOutcome> {
  const store = createSqliteReadStore({ path: ':memory:' });
  await store.ensureCollection({ name: COLLECTION, indexes: [] });
  const id = `doc-${randomUUID()}`;
  await store.bulkWrite(COLLECTION, [{ kind: 'upsert', id, position: pos(1), value: { v: 1 } }]);

  const stepper = new Stepper();
  const reader = createDocumentReader({
    store: steppedStore(store, stepper),
    cache: steppedCache(cache, stepper),
  });
  const writerSteps = [
    async () => {
      await store.bulkWrite(COLLECTION, [
        { kind: 'upsert', id, position: pos(2), value: { v: 2 } },
      ]);
    },
    () => writerCache.invalidate([cacheKey(COLLECTION, id)], pos(2)),
  ];

  const read = reader.get(COLLECTION, id);
  for (const side of order) {
    if (side === 'reader') await stepper.grant();
    else await writerSteps.shift()?.();
  }
  await read;
  const cached = await cache.get(cacheKey(COLLECTION, id));
  const stored = await store.get(COLLECTION, id);
  const plain = createDocumentReader({ store, cache });
  const next = await plain.get(COLLECTION, id);
  await store.close();
  return {
    cachedPosition: cached?.position,
    storePosition: stored?.position,
    nextRead: next?.body,
  };
}
