/**
 * Replay, in its own process so that its peak RSS is its own. `raw` reads the whole log
 * through the EventStore port in pages and does nothing else: the rate any replay is bounded
 * by. `rebuild` rebuilds the order view from the log into a fresh read store with the rebuild
 * job's replay (`replayInto`: large pages of `readAll`, folded in memory, one position-guarded
 * bulk write with the replay checkpoint per batch), the code path `POST .../rebuild` runs.
 */
import path from 'node:path';
import { orderViewProjection } from '../../src/projections/index.js';
import { collectionName } from '../../src/projections/projector.js';
import { replayInto } from '../../src/projections/rebuild/replay.js';
import { createSqliteReadStore } from '../../src/projections/sqlite/sqlite-read-store.js';
import type { Position } from '../../src/streams/event-store.js';
import { createSqliteEventStore } from '../../src/streams/sqlite/sqlite-event-store.js';
import { childArg, reportResult } from '../lib/children.js';

export type ReplayArg = Readonly<{
  mode: 'raw' | 'rebuild';
  eventsPath: string;
  dir: string;
  /** Events in the log, as the generator reported them. */
  events: number;
}>;
export type ReplayResult = Readonly<{ events: number; seconds: number; peakRssMb: number }>;

/** The replay's own page size, so that both sides read the log the same way. */
const READ_PAGE = 5000;
/** Events folded in memory per bulk write, the rebuild job's default. */
const BATCH_EVENTS = 20_000;

async function readRaw(arg: ReplayArg): Promise<number> {
  const store = createSqliteEventStore({ path: arg.eventsPath });
  let events = 0;
  let after: Position | undefined;
  for (;;) {
    const batch = await store.readAll({
      ...(after === undefined ? {} : { after }),
      maxCount: READ_PAGE,
    });
    const last = batch.at(-1);
    if (last === undefined) break;
    events += batch.length;
    after = last.position;
  }
  await store.close();
  return events;
}

async function rebuild(arg: ReplayArg): Promise<number> {
  const events = createSqliteEventStore({ path: arg.eventsPath });
  const store = createSqliteReadStore({ path: path.join(arg.dir, 'rebuild-read.db') });
  const projection = orderViewProjection;
  const collection = `${collectionName(projection)}_g2`;
  await store.ensureCollection({ name: collection, indexes: projection.indexes });
  const result = await replayInto({
    events,
    store,
    projection,
    collection,
    checkpointId: `rebuild:${projection.name}:g2`,
    partitions: 4,
    pageSize: READ_PAGE,
    batchEvents: BATCH_EVENTS,
  });
  await Promise.all([events.close(), store.close()]);
  if (result.events !== arg.events) {
    throw new Error(`replayed ${result.events} events of ${arg.events}`);
  }
  return result.events;
}

const arg = childArg<ReplayArg>();
const started = performance.now();
const events = arg.mode === 'raw' ? await readRaw(arg) : await rebuild(arg);
const seconds = (performance.now() - started) / 1000;
reportResult({
  events,
  seconds,
  peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
} satisfies ReplayResult);
