/** The ceiling: the same routes with no I/O. Every other figure is a ratio to one of these rows. */
import { startServer, withServers } from '../lib/children.js';
import { orderBody, restockBody, SKUS } from '../lib/checkout.js';
import { latencyNote, paced, throughput, throughputNote } from '../lib/harness.js';
import type { Benchmark, Row } from '../lib/types.js';

export const CEILING = {
  post: 'POST /v1/orders throughput',
  restock: 'POST /v1/products/:sku/restock throughput',
  get: 'GET /v1/orders/:orderId throughput',
  postP99: `POST /v1/orders p99 (open loop)`,
  getP99: `GET /v1/orders/:orderId p99 (open loop)`,
} as const;

export const restockPaths = SKUS.map((sku) => `/v1/products/${sku}/restock`);

export const ceiling: Benchmark = {
  name: 'ceiling',
  description: 'bare Fastify, same schemas and answers, no I/O',
  run: ({ profile }) =>
    withServers([startServer('servers/ceiling.server.ts', {})], async ([server]) => {
      const url = server?.url ?? '';
      const order = { method: 'POST', paths: ['/v1/orders'], body: orderBody() } as const;
      const restock = { method: 'POST', paths: restockPaths, body: restockBody } as const;
      const get = { method: 'GET', paths: ['/v1/orders/o000000001'] } as const;
      const rows: Row[] = [];
      for (const [name, load] of [
        [CEILING.post, order],
        [CEILING.restock, restock],
        [CEILING.get, get],
      ] as const) {
        const result = await throughput(url, load, profile);
        rows.push({
          benchmark: 'ceiling',
          name,
          value: Math.round(result.throughput),
          unit: 'req/s',
          note: throughputNote(result, profile.connections),
        });
      }
      for (const [name, load] of [
        [CEILING.postP99, order],
        [CEILING.getP99, get],
      ] as const) {
        const result = await paced(url, { ...load, rate: profile.latencyRate }, profile);
        rows.push({
          benchmark: 'ceiling',
          name,
          value: result.latency.p99,
          unit: 'ms',
          note: latencyNote(result.latency, result, profile.latencyRate),
        });
      }
      return rows;
    }),
};
