/**
 * The projector role: the checkout projections for the partitions this process owns
 * (`STREAMFOLD_PROJECTOR_PARTITIONS`), so P partitions can be spread over several processes.
 * Progress is announced through `announce`, so API processes elsewhere can serve
 * read-your-writes and report lag.
 */
import type { Projection } from '../projections/projection.js';
import {
  createProjector,
  type CommittedChange,
  type Projector,
  type ProjectorLogger,
} from '../projections/projector.js';
import type { ReadStore } from '../projections/read-store.js';
import type { EventBus } from '../streams/event-bus.js';

export type ProjectorRoleOptions = Readonly<{
  projections: readonly Projection[];
  bus: EventBus;
  store: ReadStore;
  /** @default every partition */
  partitions?: readonly number[];
  logger: ProjectorLogger & { child(bindings: Record<string, unknown>): ProjectorLogger };
  onCommit?: (change: CommittedChange) => void | Promise<void>;
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
  const projectors = new Map<string, Projector>();
  for (const projection of options.projections) {
    projectors.set(
      projection.name,
      createProjector({
        projection,
        bus: options.bus,
        store: options.store,
        partitions,
        logger: options.logger.child({ projection: projection.name }),
        ...(options.onCommit === undefined ? {} : { onCommit: options.onCommit }),
      }),
    );
  }
  await Promise.all([...projectors.values()].map((projector) => projector.start()));
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
      await Promise.all([...projectors.values()].map((projector) => projector.stop()));
    },
  };
}
