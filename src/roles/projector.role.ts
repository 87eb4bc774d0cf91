/**
 * The projector role: the checkout projections for the partitions this process owns
 * (`STREAMFOLD_PROJECTOR_PARTITIONS`), so P partitions can be spread over several processes.
 * Progress is announced through `announce`, so API processes elsewhere can serve
 * read-your-writes and report lag.
 *
 * Each projector writes the generation the projection registry names as active (issue 8), and
 * follows a switch made by a rebuild elsewhere by polling the registry: within one poll it
 * holds its partitions between batches and goes on in the new generation.
 */
import type { Projection } from '../projections/projection.js';
import {
  collectionName,
  createProjector,
  type CommittedChange,
  type Projector,
  type ProjectorLogger,
} from '../projections/projector.js';
import type { ReadStore } from '../projections/read-store.js';
import {
  createProjectionRegistry,
  type ProjectionRegistry,
} from '../projections/rebuild/registry.js';
import type { EventBus } from '../streams/event-bus.js';

export type ProjectorRoleOptions = Readonly<{
  projections: readonly Projection[];
  bus: EventBus;
  store: ReadStore;
  /** @default every partition */
  partitions?: readonly number[];
  logger: ProjectorLogger & { child(bindings: Record<string, unknown>): ProjectorLogger };
  onCommit?: (change: CommittedChange) => void | Promise<void>;
  /** How often switches made by rebuilds in other processes are picked up. @default 1000 */
  registryPollMs?: number;
}>;

export type ProjectorRole = Readonly<{
  projectors: ReadonlyMap<string, Projector>;
  /** Each owned partition's progress per projection, for announcing. */
  progress(): { projection: string; partition: number; position: string | undefined }[];
  stop(): Promise<void>;
}>;

export async function startProjectorRole(options: ProjectorRoleOptions): Promise<ProjectorRole> {
  const partitions =
    options.partitions ?? Array.from({ length: options.bus.partitions }, (_, p) => p);
  const registry = createProjectionRegistry(options.store);
  const projectors = new Map<string, Projector>();
  for (const projection of options.projections) {
    projectors.set(
      projection.name,
      createProjector({
        projection,
        bus: options.bus,
        store: options.store,
        partitions,
        collection: await liveCollection(registry, projection),
        logger: options.logger.child({ projection: projection.name }),
        ...(options.onCommit === undefined ? {} : { onCommit: options.onCommit }),
      }),
    );
  }
  await Promise.all([...projectors.values()].map((projector) => projector.start()));
  const following = followSwitches(registry, projectors, options);
  return {
    projectors,
    progress: () =>
      [...projectors].flatMap(([projection, projector]) =>
        partitions.map((partition) => ({
          projection,
          partition,
          position: projector.partitionProgress(partition),
        })),
      ),
    async stop() {
      await following.stop();
      await Promise.all([...projectors.values()].map((projector) => projector.stop()));
    },
  };
}

/**
 * The registry's active collection when it was built by this code version. A new code version
 * keeps its own first-generation name until a rebuild (`streamfold rebuild`) registers it.
 */
async function liveCollection(registry: ProjectionRegistry, projection: Projection) {
  const entry = await registry.ensure(projection);
  return entry.active.codeVersion === projection.version
    ? entry.active.collection
    : collectionName(projection);
}

/** Polls the registry and moves each projector to its projection's newly active generation. */
function followSwitches(
  registry: ProjectionRegistry,
  projectors: ReadonlyMap<string, Projector>,
  options: ProjectorRoleOptions,
): { stop(): Promise<void> } {
  const versions = new Map(options.projections.map((p) => [p.name, p.version]));
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<void> = Promise.resolve();
  let stopped = false;

  async function poll(): Promise<void> {
    for (const entry of await registry.list()) {
      const projector = projectors.get(entry.name);
      const { collection, codeVersion } = entry.active;
      if (projector === undefined || projector.collection === collection) continue;
      if (versions.get(entry.name) !== codeVersion) continue;
      await projector.switchCollection(() => Promise.resolve(collection));
    }
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      if (stopped) return;
      polling = poll()
        .catch((error: unknown) =>
          options.logger.warn({ err: error }, 'projection registry not read; retrying'),
        )
        .then(schedule);
    }, options.registryPollMs ?? 1000);
    timer.unref();
  }
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await polling;
    },
  };
}
