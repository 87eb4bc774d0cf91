/** Ingest: commands through the whole API, throughput against the ceiling and CO-free latency. */
import { orderBody, restockBody } from '../lib/checkout.js';
import {
  beside,
  latencyNote,
  paced,
  ratioTo,
  throughput,
  throughputNote,
  withTempDir,
} from '../lib/harness.js';
import { orSlot } from '../lib/slots.js';
import { onDeployment, type Topology } from '../lib/streamfold.js';
import type { BenchContext, Benchmark, Row } from '../lib/types.js';
import { CEILING, restockPaths } from './ceiling.js';

const TARGET = { embedded: 0.5, nats: 0.3 } as const;

function names(topology: Topology) {
  return {
    post: `${topology}: ${CEILING.post}`,
    restock: `${topology}: ${CEILING.restock}`,
    postP99: `${topology}: ${CEILING.postP99}`,
  };
}

/** One topology's ingest rows; adding a topology is one more call of this. */
async function ingestOn(topology: Topology, ctx: BenchContext): Promise<readonly Row[]> {
  const { profile, earlier } = ctx;
  const n = names(topology);
  const target = TARGET[topology];
  return withTempDir(`ingest-${topology}`, (dir) =>
    onDeployment(topology, dir, async ({ url }) => {
      const order = { method: 'POST', paths: ['/v1/orders'], body: orderBody() } as const;
      const restock = { method: 'POST', paths: restockPaths, body: restockBody } as const;
      const bracketed = await beside(
        order,
        profile,
        () => throughput(url, order, profile),
        (r) => r.throughput,
      );
      const posted = bracketed.result;
      const restocked = await throughput(url, restock, profile);
      const latency = await paced(url, { ...order, rate: profile.latencyRate }, profile);
      const postRatio = bracketed.ratio;
      return [
        {
          benchmark: 'ingest',
          name: n.post,
          value: Math.round(posted.throughput),
          unit: 'req/s',
          ...postRatio,
          target: `≥ ${target * 100}% of the ceiling`,
          ...(postRatio.ratio === undefined ? {} : { met: postRatio.ratio >= target }),
          note: `${throughputNote(posted, profile.connections)}; ${bracketed.note}`,
        },
        {
          benchmark: 'ingest',
          name: n.restock,
          value: Math.round(restocked.throughput),
          unit: 'req/s',
          ...ratioTo(earlier, 'ceiling', CEILING.restock, restocked.throughput),
          note: `${throughputNote(restocked, profile.connections)}; sync command over ${restockPaths.length} products (hot streams, serialised per stream)`,
        },
        {
          benchmark: 'ingest',
          name: n.postP99,
          value: latency.latency.p99,
          unit: 'ms',
          ...ratioTo(earlier, 'ceiling', CEILING.postP99, latency.latency.p99),
          note: latencyNote(latency.latency, latency, profile.latencyRate),
        },
      ] satisfies Row[];
    }),
  );
}

export const ingest: Benchmark = {
  name: 'ingest',
  description: 'POST /v1/orders and a sync command (restock), embedded and with NATS',
  run: async (ctx) => {
    const rows = [...(await ingestOn('embedded', ctx))];
    const n = names('nats');
    rows.push(
      ...(await orSlot(
        'ingest',
        [
          { name: n.post, unit: 'req/s', target: '≥ 30% of the ceiling' },
          { name: n.restock, unit: 'req/s' },
          { name: n.postP99, unit: 'ms' },
        ],
        () => ingestOn('nats', ctx),
      )),
    );
    return rows;
  },
};
