/**
 * The number behind the design: order placement done the naive way (append, then update every
 * read model and run the order workflow — reserve, price, confirm, notify — all before the
 * response) against Streamfold's deferred path (append, answer; the workflow and the read
 * models follow), same API, adapters, workflows, payloads and load: both do the same work per
 * order, only where it happens differs.
 */
import { startServer, withServers } from '../lib/children.js';
import { orderBody } from '../lib/checkout.js';
import {
  latencyNote,
  paced,
  registerProducts,
  throughput,
  throughputNote,
  withTempDir,
} from '../lib/harness.js';
import { round } from '../lib/histogram.js';
import { onDeployment } from '../lib/streamfold.js';
import type { Benchmark, Profile, Row } from '../lib/types.js';

const order = { method: 'POST', paths: ['/v1/orders'], body: orderBody() } as const;

async function measure(url: string, profile: Profile) {
  return {
    latency: await paced(url, { ...order, rate: profile.latencyRate }, profile),
    throughput: await throughput(url, order, profile),
  };
}

export const baseline: Benchmark = {
  name: 'baseline',
  description: 'naive on-the-request-path order placement against the deferred path',
  run: async ({ profile }) => {
    const naive = await withTempDir('naive', (dataDir) =>
      withServers([startServer('servers/naive.server.ts', { dataDir })], async ([server]) => {
        const url = server?.url ?? '';
        await registerProducts(url);
        return measure(url, profile);
      }),
    );
    const deferred = await withTempDir('deferred', (dir) =>
      onDeployment('embedded', dir, ({ url }) => measure(url, profile)),
    );
    const p99 = (side: typeof naive) => side.latency.latency.p99;
    return [
      {
        benchmark: 'baseline',
        name: `naive (read models, workflows and notification in the request): POST /v1/orders p99 (open loop)`,
        value: p99(naive),
        unit: 'ms',
        note: latencyNote(naive.latency.latency, naive.latency, profile.latencyRate),
      },
      {
        benchmark: 'baseline',
        name: `deferred (Streamfold): POST /v1/orders p99 (open loop)`,
        value: p99(deferred),
        unit: 'ms',
        ...(p99(naive) > 0 ? { ratio: round(p99(deferred) / p99(naive), 3) } : {}),
        ratioTo: 'baseline: naive p99',
        note: latencyNote(deferred.latency.latency, deferred.latency, profile.latencyRate),
      },
      {
        benchmark: 'baseline',
        name: 'naive: POST /v1/orders throughput',
        value: Math.round(naive.throughput.throughput),
        unit: 'req/s',
        note: throughputNote(naive.throughput, profile.connections),
      },
      {
        benchmark: 'baseline',
        name: 'deferred (Streamfold): POST /v1/orders throughput',
        value: Math.round(deferred.throughput.throughput),
        unit: 'req/s',
        ratio: round(deferred.throughput.throughput / Math.max(1, naive.throughput.throughput), 3),
        ratioTo: 'baseline: naive throughput',
        note: throughputNote(deferred.throughput, profile.connections),
      },
    ] satisfies Row[];
  },
};
