/**
 * Queries: `GET /v1/orders/:orderId` served from the cache (a working set of 100 orders that
 * the cache holds) and from the read store (every order of a log larger than the cache's
 * 10,000 entries, requested in a cycle, so that LRU evicts each one long before it comes round
 * again: a hit ratio of about zero by construction).
 */
import path from 'node:path';
import { orderIdOf } from '../lib/checkout.js';
import { runWorker } from '../lib/children.js';
import {
  beside,
  latencyNote,
  paced,
  ratioTo,
  throughput,
  throughputNote,
  waitForOrder,
  withTempDir,
} from '../lib/harness.js';
import { onDeployment } from '../lib/streamfold.js';
import type { Benchmark, Row } from '../lib/types.js';
import type { SeedArg, SeedResult } from '../workers/seed.worker.js';
import { CEILING } from './ceiling.js';

const CACHED_SET = 100;
const TARGET = 0.8;

export const query: Benchmark = {
  name: 'query',
  description: 'GET /v1/orders/:orderId, cached and uncached',
  run: ({ profile, earlier, log }) =>
    withTempDir('query', async (dir) => {
      const orders = profile.uncachedOrders;
      const seeded = await runWorker<SeedResult>('workers/seed.worker.ts', {
        path: path.join(dir, 'events.db'),
        orders,
        eventsPerOrder: 1,
      } satisfies SeedArg);
      log(`seeded ${seeded.events} events in ${seeded.seconds.toFixed(1)} s`);
      return onDeployment(
        'embedded',
        dir,
        async ({ url }) => {
          await waitForOrder(url, seeded.lastOrderId, seeded.head, 300_000);
          const ids = Array.from({ length: orders }, (_, i) => `/v1/orders/${orderIdOf(i)}`);
          const cached = { method: 'GET', paths: ids.slice(0, CACHED_SET) } as const;
          const uncached = { method: 'GET', paths: ids } as const;
          // The ceiling answers the same GET for any id: one path stands for both sets.
          const ceilingGet = { method: 'GET', paths: ['/v1/orders/o000000001'] } as const;
          const runs = await beside(
            ceilingGet,
            profile,
            async () => ({
              hot: await throughput(url, cached, profile),
              cold: await throughput(url, uncached, profile),
            }),
            (r) => r.hot.throughput,
          );
          const { hot, cold } = runs.result;
          const hotRatio = runs.ratio;
          const coldRatio = {
            ratio: Math.round((cold.throughput / runs.ceiling) * 1000) / 1000,
            ratioTo: runs.ratio.ratioTo,
          };
          const hotLatency = await paced(url, { ...cached, rate: profile.latencyRate }, profile);
          const coldLatency = await paced(url, { ...uncached, rate: profile.latencyRate }, profile);
          const samples = profile.hitRatioSamples;
          const cycled = uncached.paths.slice(CACHED_SET + orders / 2);
          const hits = await hitRatio(url, cached.paths, samples);
          const coldHits = await hitRatio(url, cycled, samples);
          return [
            {
              benchmark: 'query',
              name: `cached: ${CEILING.get}`,
              value: Math.round(hot.throughput),
              unit: 'req/s',
              ...hotRatio,
              target: `≥ ${TARGET * 100}% of the ceiling`,
              ...(hotRatio.ratio === undefined ? {} : { met: hotRatio.ratio >= TARGET }),
              note: `${throughputNote(hot, profile.connections)}; ${CACHED_SET} orders, all cached after warm-up; ${runs.note}`,
            },
            {
              benchmark: 'query',
              name: `cached: ${CEILING.getP99}`,
              value: hotLatency.latency.p99,
              unit: 'ms',
              ...ratioTo(earlier, 'ceiling', CEILING.getP99, hotLatency.latency.p99),
              note: latencyNote(hotLatency.latency, hotLatency, profile.latencyRate),
            },
            {
              benchmark: 'query',
              name: 'cached: hit ratio',
              value: hits,
              unit: 'ratio',
              note: `Streamfold-Cache header of ${samples} GETs over the cached set after the runs`,
            },
            {
              benchmark: 'query',
              name: 'uncached: hit ratio',
              value: coldHits,
              unit: 'ratio',
              note: `Streamfold-Cache header of ${samples} GETs over the cycled orders after the runs`,
            },
            {
              benchmark: 'query',
              name: `uncached: ${CEILING.get}`,
              value: Math.round(cold.throughput),
              unit: 'req/s',
              ...(runs.ceiling > 0 ? coldRatio : {}),
              note: `${throughputNote(cold, profile.connections)}; ${orders} orders in a cycle, hit ratio ≈ 0 by construction; ${runs.note}`,
            },
            {
              benchmark: 'query',
              name: `uncached: ${CEILING.getP99}`,
              value: coldLatency.latency.p99,
              unit: 'ms',
              note: latencyNote(coldLatency.latency, coldLatency, profile.latencyRate),
            },
          ] satisfies Row[];
        },
        { register: false },
      );
    }),
};

/** The share of answers served from the cache, from the `Streamfold-Cache` header. */
async function hitRatio(url: string, paths: readonly string[], samples: number): Promise<number> {
  let hits = 0;
  for (let i = 0; i < samples; i++) {
    const response = await fetch(`${url}${paths[i % paths.length] ?? '/'}`);
    await response.arrayBuffer();
    if (response.headers.get('streamfold-cache') === 'hit') hits++;
  }
  return Math.round((hits / samples) * 1000) / 1000;
}
