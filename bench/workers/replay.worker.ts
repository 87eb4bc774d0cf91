/**
 * Replay, in its own process so that its peak RSS is its own. `raw` reads the whole log
 * through the EventStore port in batches and does nothing else: the rate any replay is bounded
 * by. `rebuild` builds the order view from the log into a fresh read store with the embedded
 * pipeline (relay, in-process bus, projector with position-guarded bulk writes), the code
 * path the embedded mode replays through on start-up.
 */
import path from 'node:path';
import { orderViewProjection } from '../../src/projections/index.js';
import { createProjector } from '../../src/projections/projector.js';
import { createSqliteReadStore } from '../../src/projections/sqlite/sqlite-read-store.js';
import type { Position } from '../../src/streams/event-store.js';
import { createInProcessBus } from '../../src/streams/memory/in-process-bus.js';
import { createRelay } from '../../src/streams/relay.js';
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

const READ_BATCH = 1000;
const quiet = { info: () => undefined, warn: console.warn, error: console.error };

async function readRaw(arg: ReplayArg): Promise<number> {
  const store = createSqliteEventStore({ path: arg.eventsPath });
  let events = 0;
  let after: Position | undefined;
  for (;;) {
    const batch = await store.readAll({
      ...(after === undefined ? {} : { after }),
      maxCount: READ_BATCH,
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
  const store = createSqliteEventStore({ path: arg.eventsPath });
  const head = await store.headPosition();
  const readStore = createSqliteReadStore({ path: path.join(arg.dir, 'rebuild-read.db') });
  const bus = createInProcessBus({ partitions: 4 });
  const projector = createProjector({
    projection: orderViewProjection,
    bus,
    store: readStore,
    logger: quiet,
  });
  const relay = createRelay({
    store,
    bus,
    checkpoints: {
      get: (id) => readStore.getCheckpoint(id),
      put: (id, position) => readStore.putCheckpoint({ id, position }),
    },
    logger: quiet,
  });
  await projector.start();
  await relay.start({});
  if (head !== undefined && !(await projector.waitFor(head, { timeoutMs: 3_600_000 }))) {
    throw new Error('the rebuild did not reach the head of the log');
  }
  await relay.stop();
  await projector.stop();
  await Promise.all([bus.close(), store.close(), readStore.close()]);
  return arg.events;
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
