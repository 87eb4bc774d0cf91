/**
 * Runs rebuild jobs next to the live projectors of this process: starts them on request,
 * resumes the ones a crash interrupted, starts one for every projection whose code version
 * is newer than its active generation, and drops replaced generations after their grace period.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCodes, NotFoundError, StreamfoldError } from '../../errors.js';
import type { EventStore, JsonObject } from '../../streams/event-store.js';
import type { Projection } from '../projection.js';
import type { Projector } from '../projector.js';
import type { ReadStore } from '../read-store.js';
import {
  createRebuildJob,
  rebuildCheckpointId,
  type JobStatus,
  type LiveSwitch,
  type RebuildJob,
} from './rebuild-job.js';
import { generationCollection, type ProjectionRegistry, type RegistryEntry } from './registry.js';

export type RebuildLogger = Readonly<{
  info(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}>;

export type RebuildManagerOptions = Readonly<{
  events: EventStore;
  store: ReadStore;
  registry: ProjectionRegistry;
  projections: readonly Projection<JsonObject>[];
  partitions: number;
  /** The live projectors of this process by projection name; switched projectors are added. */
  projectors: Map<string, Projector>;
  /**
   * Creates a live projector writing to `collection`, for a projection whose new code version
   * only goes live once its first generation is built. @default none: nothing goes live
   */
  createProjector?: (projection: Projection<JsonObject>, collection: string) => Projector;
  /** How long a replaced generation stays readable. @default 60_000 */
  graceMs?: number;
  /**
   * How long projectors in other processes may keep writing to the replaced generation before
   * they see the switch (their registry poll). After it the job replays the log's tail once more
   * into the new generation, so nothing they applied to the old one in that window is missing
   * (position guards make the overlap harmless). @default 0: no followers elsewhere
   */
  followersMs?: number;
  /** Events folded in memory per bulk write. @default 20000 */
  batchEvents?: number;
  onSwitched?: (entry: RegistryEntry) => void | Promise<void>;
  logger: RebuildLogger;
}>;

export type RebuildManager = Readonly<{
  /**
   * Makes sure every projection has a registry entry and says on which collection each
   * projection's live projector runs now; a projection missing from the answer has a new code
   * version and goes live when `resume()`'s rebuild switches it.
   */
  prepare(): Promise<ReadonlyMap<string, string>>;
  /** Resumes interrupted rebuilds, starts the ones new code versions need, schedules drops. */
  resume(): Promise<void>;
  /** Starts a rebuild; a conflict if one is running, not found for an unknown projection. */
  rebuild(name: string): Promise<RebuildJob>;
  job(jobId: string): RebuildJob | undefined;
  /** The job running for a projection in this process, if any. */
  running(name: string): RebuildJob | undefined;
  /** Ends the jobs' replays where they are (they resume on the next start) and the timers. */
  stop(): Promise<void>;
}>;

export function createRebuildManager(options: RebuildManagerOptions): RebuildManager {
  const { registry, store, projectors, logger } = options;
  const projections = new Map(options.projections.map((p) => [p.name, p]));
  const jobs = new Map<string, RebuildJob>();
  const runs = new Map<string, Promise<JobStatus>>();
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;

  function projectionOf(name: string): Projection<JsonObject> {
    const projection = projections.get(name);
    if (projection === undefined) throw new NotFoundError(`No projection named ${name}`);
    return projection;
  }

  function liveSwitch(projection: Projection<JsonObject>, collection: string): LiveSwitch {
    const running = projectors.get(projection.name);
    if (running !== undefined) return (prepare) => running.switchCollection(prepare);
    const create = options.createProjector;
    if (create === undefined) return async (prepare) => void (await prepare());
    return async (prepare) => {
      // Consuming starts held, so nothing relayed meanwhile is missed or applied out of turn.
      const projector = create(projection, collection);
      await projector.switchCollection(async () => {
        await projector.start();
        return prepare();
      });
      projectors.set(projection.name, projector);
    };
  }

  async function claim(projection: Projection<JsonObject>): Promise<RegistryEntry> {
    const entry = await registry.ensure(projection);
    const generation = Math.max(entry.active.generation, entry.building?.generation ?? 0) + 1;
    return registry.update(entry, {
      active: entry.active,
      retired: entry.retired,
      building: {
        collection: generationCollection(projection, generation),
        generation,
        codeVersion: projection.version,
        jobId: randomUUID(),
        startedAt: new Date().toISOString(),
      },
    });
  }

  function launch(projection: Projection<JsonObject>, entry: RegistryEntry): RebuildJob {
    const { building } = entry;
    if (building === undefined) throw new Error(`Projection ${projection.name} is not building`);
    const job = createRebuildJob({
      events: options.events,
      store,
      registry,
      projection,
      entry: { ...entry, building },
      partitions: options.partitions,
      live: liveSwitch(projection, building.collection),
      ...(options.graceMs === undefined ? {} : { graceMs: options.graceMs }),
      ...(options.followersMs === undefined ? {} : { followersMs: options.followersMs }),
      ...(options.batchEvents === undefined ? {} : { batchEvents: options.batchEvents }),
      onSwitched: async (switched) => {
        await options.onSwitched?.(switched);
        scheduleDrops(switched);
      },
    });
    jobs.set(job.id, job);
    const run = job.run().then((status) => {
      const message = `rebuild of ${projection.name} ${status.state}`;
      // Called as methods: loggers such as pino need their `this`.
      if (status.state === 'failed') logger.error({ ...status }, message);
      else logger.info({ ...status }, message);
      return status;
    });
    runs.set(job.id, run);
    logger.info(
      { jobId: job.id, generation: building.generation },
      `rebuild of ${projection.name} started`,
    );
    return job;
  }

  function running(name: string): RebuildJob | undefined {
    return [...jobs.values()].find(
      (job) => job.projection === name && !isFinished(job.status().state),
    );
  }

  async function rebuild(name: string): Promise<RebuildJob> {
    const projection = projectionOf(name);
    if (running(name) !== undefined) {
      throw new StreamfoldError(ErrorCodes.CONFLICT, `A rebuild of ${name} is already running`, {
        details: { projection: name },
      });
    }
    const entry = await registry.ensure(projection);
    // A building generation left by a failed or interrupted job is resumed, not restarted.
    const resumable = entry.building?.codeVersion === projection.version;
    return launch(projection, resumable ? entry : await claim(projection));
  }

  function scheduleDrops(entry: RegistryEntry): void {
    for (const retired of entry.retired) {
      const delay = Math.max(0, Date.parse(retired.dropAfter) - Date.now());
      const timer = setTimeout(() => {
        timers.delete(timer);
        dropRetired(entry.name, retired.collection).catch((error: unknown) =>
          logger.error(
            { err: error, collection: retired.collection },
            'retired collection not dropped',
          ),
        );
      }, delay);
      timer.unref();
      timers.add(timer);
    }
  }

  async function dropRetired(name: string, collection: string): Promise<void> {
    if (stopped) return;
    const entry = await registry.get(name);
    if (entry === undefined || entry.active.collection === collection) return;
    await store.dropCollection(collection);
    const retired = entry.retired.filter((r) => r.collection !== collection);
    await registry.update(entry, {
      active: entry.active,
      retired,
      ...(entry.building === undefined ? {} : { building: entry.building }),
    });
    logger.info({ collection }, `retired generation of ${name} dropped`);
  }

  async function resumeOne(projection: Projection<JsonObject>): Promise<void> {
    let entry = await registry.ensure(projection);
    scheduleDrops(entry);
    const { building } = entry;
    if (building !== undefined && building.codeVersion !== projection.version) {
      // Built by a code version that is no longer deployed: worthless.
      await store.dropCollection(building.collection);
      await store.deleteCheckpoint(rebuildCheckpointId(projection.name, building.generation));
      entry = await registry.update(entry, { active: entry.active, retired: entry.retired });
    }
    if (entry.building !== undefined) launch(projection, entry);
    else if (entry.active.codeVersion !== projection.version)
      launch(projection, await claim(projection));
  }

  return {
    async prepare() {
      const live = new Map<string, string>();
      for (const projection of projections.values()) {
        const entry = await registry.ensure(projection);
        if (entry.active.codeVersion === projection.version) {
          live.set(projection.name, entry.active.collection);
        }
      }
      return live;
    },
    async resume() {
      for (const projection of projections.values()) await resumeOne(projection);
    },
    rebuild,
    job: (jobId) => jobs.get(jobId),
    running,
    async stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const job of jobs.values()) job.interrupt();
      await Promise.all(runs.values());
    },
  };
}

function isFinished(state: JobStatus['state']): boolean {
  return (
    state === 'completed' || state === 'failed' || state === 'cancelled' || state === 'interrupted'
  );
}
