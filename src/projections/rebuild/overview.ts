/**
 * What `GET /v1/admin/projections` shows: each projection's active generation, how far its
 * live projector has got and how far behind the log it is, and whether a rebuild is running.
 */
import type { EventStore, JsonObject, Position } from '../../streams/event-store.js';
import type { Projection } from '../projection.js';
import type { Projector } from '../projector.js';
import { sequenceOf } from './progress.js';
import type { Generation, ProjectionRegistry } from './registry.js';
import type { RebuildManager } from './rebuild-manager.js';

export type ProjectionOverview = Readonly<{
  name: string;
  codeVersion: number;
  active: Generation;
  state: 'live' | 'rebuilding';
  /** The live projector's progress in this process; null before its first event or elsewhere. */
  position: Position | null;
  lag: Readonly<{ events: number | null; seconds: number | null }>;
  jobId: string | null;
}>;

export type OverviewDeps = Readonly<{
  events: EventStore;
  registry: ProjectionRegistry;
  projections: readonly Projection<JsonObject>[];
  projectors: ReadonlyMap<string, Projector>;
  manager: RebuildManager;
}>;

export async function projectionsOverview(deps: OverviewDeps): Promise<ProjectionOverview[]> {
  const head = await deps.events.headPosition();
  const overview: ProjectionOverview[] = [];
  for (const projection of deps.projections) {
    const entry = await deps.registry.ensure(projection);
    const position = deps.projectors.get(projection.name)?.progress();
    const job = deps.manager.running(projection.name);
    overview.push({
      name: projection.name,
      codeVersion: projection.version,
      active: entry.active,
      state: entry.building === undefined ? 'live' : 'rebuilding',
      position: position ?? null,
      lag: await lagOf(deps.events, position, head),
      jobId: job?.id ?? entry.building?.jobId ?? null,
    });
  }
  return overview;
}

/**
 * Events: exact where positions are sequences. Seconds: the age of the oldest event not yet
 * projected, one read of one event.
 */
async function lagOf(
  events: EventStore,
  position: Position | undefined,
  head: Position | undefined,
): Promise<ProjectionOverview['lag']> {
  if (head === undefined || position === head) return { events: 0, seconds: 0 };
  const at = sequenceOf(position);
  const end = sequenceOf(head);
  const next = await events.readAll({
    maxCount: 1,
    ...(position === undefined ? {} : { after: position }),
  });
  const occurredAt = next[0] === undefined ? Number.NaN : Date.parse(next[0].metadata.occurredAt);
  return {
    events: at === undefined || end === undefined ? null : Math.max(0, end - at),
    seconds: Number.isNaN(occurredAt) ? 0 : Math.max(0, (Date.now() - occurredAt) / 1000),
  };
}
