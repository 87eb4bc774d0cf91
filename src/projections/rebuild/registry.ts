/**
 * The active-version registry: for each projection, which physical collection queries read
 * (`active`) and which one a rebuild is writing (`building`). It is one document per projection
 * in a read-store collection, so every process sharing the read store sees the same answer,
 * and switching versions is one document write: atomic on every adapter.
 *
 * Writes are compare-and-set: each entry carries a revision used as the document's position,
 * and the read store's position guard refuses a write whose revision is not newer than the
 * stored one, so two writers racing on one entry cannot both win.
 */
import { StreamfoldError, ErrorCodes } from '../../errors.js';
import type { JsonObject } from '../../streams/event-store.js';
import type { Projection } from '../projection.js';
import { collectionName } from '../projector.js';
import type { ReadStore } from '../read-store.js';

/** The registry's own collection; its name cannot clash with a projection's `<name>_v<n>`. */
export const REGISTRY_COLLECTION = 'sf_projection_registry';

export type Generation = Readonly<{
  collection: string;
  /** Counts up per projection across code versions; generation 1 is `<name>_v<version>`. */
  generation: number;
  /** The projection's code version the generation is folded with. */
  codeVersion: number;
}>;

export type Building = Generation &
  Readonly<{
    jobId: string;
    /** ISO 8601 time the rebuild began. */
    startedAt: string;
  }>;

/** A replaced generation, kept for a grace period so in-flight queries can finish on it. */
export type Retired = Readonly<{ collection: string; dropAfter: string }>;

export type RegistryEntry = Readonly<{
  name: string;
  revision: number;
  active: Generation;
  building?: Building;
  retired: readonly Retired[];
}>;

export type EntryChange = Omit<RegistryEntry, 'name' | 'revision'>;

export interface ProjectionRegistry {
  /** The entry, created with generation 1 as active when the projection is new. */
  ensure(projection: Pick<Projection, 'name' | 'version'>): Promise<RegistryEntry>;
  get(name: string): Promise<RegistryEntry | undefined>;
  list(): Promise<readonly RegistryEntry[]>;
  /**
   * Replaces the entry if nobody changed it since `entry` was read; rejects with a conflict
   * otherwise, so the caller re-reads and decides again.
   */
  update(entry: RegistryEntry, change: EntryChange): Promise<RegistryEntry>;
}

/** The physical collection of a generation: `<name>_v<version>_g<generation>`, gen 1 unsuffixed. */
export function generationCollection(
  projection: Pick<Projection, 'name' | 'version'>,
  generation: number,
): string {
  const base = collectionName(projection);
  return generation === 1 ? base : `${base}_g${generation}`;
}

export class RegistryConflictError extends StreamfoldError {
  constructor(name: string) {
    super(ErrorCodes.CONFLICT, `The registry entry of projection ${name} changed meanwhile`, {
      details: { projection: name },
    });
  }
}

export function createProjectionRegistry(store: ReadStore): ProjectionRegistry {
  let ready: Promise<void> | undefined;
  const collection = () =>
    (ready ??= store.ensureCollection({ name: REGISTRY_COLLECTION, indexes: [] }));

  async function get(name: string): Promise<RegistryEntry | undefined> {
    await collection();
    const doc = await store.get(REGISTRY_COLLECTION, name);
    return doc === undefined ? undefined : (doc.value as unknown as RegistryEntry);
  }

  async function write(entry: RegistryEntry): Promise<boolean> {
    const value = entry as unknown as JsonObject;
    const position = revisionPosition(entry.revision);
    const result = await store.bulkWrite(REGISTRY_COLLECTION, [
      { kind: 'upsert', id: entry.name, position, value },
    ]);
    return result.applied === 1;
  }

  return {
    get,
    async ensure(projection) {
      const existing = await get(projection.name);
      if (existing !== undefined) return existing;
      const entry: RegistryEntry = {
        name: projection.name,
        revision: 1,
        active: {
          collection: collectionName(projection),
          generation: 1,
          codeVersion: projection.version,
        },
        retired: [],
      };
      // Another process may have created it first; then its entry is the one.
      if (await write(entry)) return entry;
      const created = await get(projection.name);
      if (created === undefined) throw new RegistryConflictError(projection.name);
      return created;
    },
    async list() {
      await collection();
      const entries: RegistryEntry[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.find(REGISTRY_COLLECTION, {
          limit: 200,
          ...(cursor === undefined ? {} : { cursor }),
        });
        entries.push(...page.items.map((doc) => doc.value as unknown as RegistryEntry));
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      return entries;
    },
    async update(entry, change) {
      const next: RegistryEntry = {
        name: entry.name,
        revision: entry.revision + 1,
        active: change.active,
        ...(change.building === undefined ? {} : { building: change.building }),
        retired: change.retired,
      };
      if (!(await write(next))) throw new RegistryConflictError(entry.name);
      return next;
    },
  };
}

/** Fixed width, so that string order (the read store's guard) is numeric order. */
function revisionPosition(revision: number): string {
  return String(revision).padStart(16, '0');
}
