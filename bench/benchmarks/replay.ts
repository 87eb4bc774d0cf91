/**
 * Replay: the order view rebuilt from a generated log by the rebuild job's replay (from the
 * event store, never the bus), next to the raw read rate of the same log in the same run, each
 * in its own process so that each peak RSS is its own.
 */
import os from 'node:os';
import path from 'node:path';
import { runWorker } from '../lib/children.js';
import { round } from '../lib/histogram.js';
import { withTempDir } from '../lib/harness.js';
import type { Benchmark, Row } from '../lib/types.js';
import type { ReplayArg, ReplayResult } from '../workers/replay.worker.js';
import type { SeedArg, SeedResult } from '../workers/seed.worker.js';

const EVENTS_PER_ORDER = 4;

export const replay: Benchmark = {
  name: 'replay',
  description: 'rebuild of the order view from the SQLite log, next to the raw read rate',
  run: ({ profile, log }) =>
    withTempDir('replay', async (dir) => {
      const eventsPath = path.join(dir, 'events.db');
      const seeded = await runWorker<SeedResult>('workers/seed.worker.ts', {
        path: eventsPath,
        orders: Math.ceil(profile.replayEvents / EVENTS_PER_ORDER),
        eventsPerOrder: EVENTS_PER_ORDER,
      } satisfies SeedArg);
      log(`generated ${seeded.events} events in ${seeded.seconds.toFixed(1)} s`);
      const arg = { eventsPath, dir, events: seeded.events };
      const raw = await runWorker<ReplayResult>('workers/replay.worker.ts', {
        ...arg,
        mode: 'raw',
      } satisfies ReplayArg);
      const rebuilt = await runWorker<ReplayResult>('workers/replay.worker.ts', {
        ...arg,
        mode: 'rebuild',
      } satisfies ReplayArg);
      // Both sides share the machine with whatever else runs: say how busy it was.
      const load = os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ');
      const rawRate = raw.events / raw.seconds;
      const rebuildRate = rebuilt.events / rebuilt.seconds;
      const ratio = round(rebuildRate / rawRate, 3);
      return [
        {
          benchmark: 'replay',
          name: 'raw log read (EventStore.readAll, pages of 5000)',
          value: Math.round(rawRate),
          unit: 'events/s',
          note: `${raw.events} events in ${raw.seconds.toFixed(2)} s, peak RSS ${raw.peakRssMb} MB, load ${load}`,
        },
        {
          benchmark: 'replay',
          name: 'order-view rebuild (replayInto: readAll → fold in memory → bulkWrite per 20,000 events)',
          value: Math.round(rebuildRate),
          unit: 'events/s',
          ratio,
          ratioTo: 'replay: raw log read',
          target: '≥ 100,000 events/s and ≥ 50% of the raw read',
          met: rebuildRate >= 100_000 && ratio >= 0.5,
          note: `${rebuilt.events} events in ${rebuilt.seconds.toFixed(2)} s into an empty SQLite read store, load ${load}`,
        },
        {
          benchmark: 'replay',
          name: `rebuild peak RSS at ${rebuilt.events} events`,
          value: rebuilt.peakRssMb,
          unit: 'MB',
          target: '≤ 300 MB',
          met: rebuilt.peakRssMb <= 300,
        },
      ] satisfies Row[];
    }),
};
