/**
 * One rebuild: replays the log into the registry's `building` generation while the active one
 * keeps serving, catches up with the head, then switches in one registry write while the live
 * projector is held between batches, and retires the previous generation.
 *
 * The replay stores its own checkpoint (`rebuild:<name>:g<generation>`) with every batch, so a
 * job that starts on an entry that is already `building` (after a crash) resumes there.
 */
import type { EventStore, JsonObject, Position } from '../../streams/event-store.js';
import type { Projection } from '../projection.js';
import type { ReadStore } from '../read-store.js';
import { estimateTotal, figures, sequenceOf, type ProgressFigures } from './progress.js';
import type { Building, ProjectionRegistry, RegistryEntry } from './registry.js';
import { replayInto } from './replay.js';

export type JobState =
  | 'running'
  | 'catching-up'
  | 'switching'
  | 'completed'
  | 'failed'
  | 'cancelled'
  /** Stopped by shutdown; the building generation and its checkpoint stay for the next start. */
  | 'interrupted';

export type JobStatus = ProgressFigures &
  Readonly<{
    jobId: string;
    projection: string;
    generation: number;
    collection: string;
    state: JobState;
    /** Events already in the shadow when this process took the job over (0 when new). */
    resumedAt: number;
    error?: string;
  }>;

/**
 * Holds the live projection between batches while `prepare` replays the tail and switches,
 * then resumes it on the collection `prepare` returns. Without a live projector in this
 * process, it just runs `prepare`.
 */
export type LiveSwitch = (prepare: () => Promise<string>) => Promise<void>;

export type RebuildJobOptions = Readonly<{
  events: EventStore;
  store: ReadStore;
  registry: ProjectionRegistry;
  projection: Projection<JsonObject>;
  /** The entry with its `building` generation already claimed. */
  entry: RegistryEntry & Readonly<{ building: Building }>;
  /** The bus's partition count, which documents may be keyed by. */
  partitions: number;
  live: LiveSwitch;
  /** How long the replaced generation stays readable. @default 60_000 */
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
  /** Called once the registry names the new generation, for example to refresh query routes. */
  onSwitched?: (entry: RegistryEntry) => void | Promise<void>;
}>;

export type RebuildJob = Readonly<{
  id: string;
  projection: string;
  status(): JobStatus;
  /** Resolves when the job has ended, whatever its end; never rejects. */
  run(): Promise<JobStatus>;
  /** Stops the replay and drops the shadow collection; too late once switching. */
  cancel(): void;
  /** Stops the replay after its current batch and keeps what it built, to resume later. */
  interrupt(): void;
}>;

export function rebuildCheckpointId(name: string, generation: number): string {
  return `rebuild:${name}:g${generation}`;
}

export function createRebuildJob(options: RebuildJobOptions): RebuildJob {
  const { events, store, registry, projection, entry, live } = options;
  const building = entry.building;
  const checkpointId = rebuildCheckpointId(projection.name, building.generation);
  const cancelling = new AbortController();
  let interrupted = false;
  let state: JobState = 'running';
  let error: string | undefined;
  let done = 0;
  let doneHere = 0;
  let resumedAt = 0;
  let total: number | undefined;
  let reached: Position | undefined;
  const started = performance.now();

  async function measure(): Promise<void> {
    total = estimateTotal(done, reached, await events.headPosition());
  }

  async function replay(): Promise<number> {
    const result = await replayInto({
      events,
      store,
      projection,
      collection: building.collection,
      checkpointId,
      partitions: options.partitions,
      batchEvents: options.batchEvents ?? 20_000,
      signal: cancelling.signal,
      onBatch: (batch) => {
        done += batch.events;
        doneHere += batch.events;
        reached = batch.position;
      },
    });
    await measure();
    return result.events;
  }

  async function switchOver(): Promise<string> {
    await replay();
    const current = await registry.get(projection.name);
    if (current?.building?.jobId !== building.jobId) {
      throw new Error(`The registry no longer names job ${building.jobId} as building`);
    }
    const dropAfter = new Date(Date.now() + (options.graceMs ?? 60_000)).toISOString();
    const { collection, generation, codeVersion } = building;
    const switched = await registry.update(current, {
      active: { collection, generation, codeVersion },
      retired: [...current.retired, { collection: current.active.collection, dropAfter }],
    });
    await options.onSwitched?.(switched);
    if ((options.followersMs ?? 0) > 0) {
      await new Promise((resolve) => setTimeout(resolve, options.followersMs));
      await replay();
    }
    await store.deleteCheckpoint(checkpointId);
    return collection;
  }

  async function abandon(): Promise<void> {
    const current = await registry.get(projection.name);
    if (current?.building?.jobId === building.jobId) {
      await registry.update(current, { active: current.active, retired: current.retired });
    }
    await store.dropCollection(building.collection);
    await store.deleteCheckpoint(checkpointId);
  }

  async function execute(): Promise<void> {
    await store.ensureCollection({ name: building.collection, indexes: projection.indexes });
    reached = await store.getCheckpoint(checkpointId);
    resumedAt = done = sequenceOf(reached) ?? 0;
    await measure();
    await replay();
    state = 'catching-up';
    // Under load the head moves during a long replay; a second pass makes the held tail short.
    await replay();
    if (interrupted) {
      state = 'interrupted';
      return;
    }
    if (cancelling.signal.aborted) {
      await abandon();
      state = 'cancelled';
      return;
    }
    state = 'switching';
    await live(switchOver);
    state = 'completed';
  }

  const job: RebuildJob = {
    id: building.jobId,
    projection: projection.name,
    status: () => ({
      jobId: building.jobId,
      projection: projection.name,
      generation: building.generation,
      collection: building.collection,
      state,
      resumedAt,
      ...figures(done, total, doneHere, performance.now() - started),
      ...(error === undefined ? {} : { error }),
    }),
    async run() {
      try {
        await execute();
      } catch (failure) {
        state = 'failed';
        error = failure instanceof Error ? failure.message : String(failure);
      }
      return job.status();
    },
    cancel() {
      if (state === 'running' || state === 'catching-up') cancelling.abort();
    },
    interrupt() {
      if (state !== 'running' && state !== 'catching-up') return;
      interrupted = true;
      cancelling.abort();
    },
  };
  return job;
}
