/**
 * Settle: at a steady 500 orders/s, the time from an order's 202 to its settlement by the
 * order-processing workflow (confirmed or rejected), next to the 202's own latency.
 *
 * The settle time is read from the log after the run, so measuring it adds no load: for each
 * order, the settling event's `occurredAt` minus `OrderPlaced`'s. Both are stamped by the same
 * process clock when the command is decided, just before its append; the 202 follows the
 * placement's fsync, so the figure is the settle time plus one append, a slight upper bound.
 */
import path from 'node:path';
import { createSqliteEventStore } from '../../src/streams/sqlite/sqlite-event-store.js';
import type { Position } from '../../src/streams/event-store.js';
import { orderBody } from '../lib/checkout.js';
import { latencyNote, paced, withTempDir } from '../lib/harness.js';
import { createRecorder } from '../lib/histogram.js';
import { onDeployment } from '../lib/streamfold.js';
import type { Benchmark, Latency, Row } from '../lib/types.js';

const SETTLING = new Set(['OrderConfirmed', 'OrderRejected']);

/** Reads the whole log until every placed order has settled (or the deadline passes). */
async function settleTimes(
  dataDir: string,
  timeoutMs: number,
): Promise<{ latency: Latency; unsettled: number }> {
  const store = createSqliteEventStore({ path: path.join(dataDir, 'events.db') });
  const placed = new Map<string, number>();
  const settled = new Map<string, number>();
  let after: Position | undefined;
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const batch = await store.readAll({
        maxCount: 5000,
        ...(after === undefined ? {} : { after }),
      });
      for (const event of batch) {
        const orderId = event.data.orderId as string | undefined;
        if (orderId === undefined) continue;
        const at = Date.parse(event.metadata.occurredAt);
        if (event.type === 'OrderPlaced') placed.set(orderId, at);
        else if (SETTLING.has(event.type)) settled.set(orderId, at);
      }
      after = batch.at(-1)?.position ?? after;
      if (batch.length > 0) continue;
      if (settled.size >= placed.size || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await store.close();
  }
  const recorder = createRecorder();
  for (const [orderId, at] of placed) {
    const done = settled.get(orderId);
    if (done !== undefined) recorder.record(Math.max(0, done - at));
  }
  return { latency: recorder.summary(), unsettled: placed.size - settled.size };
}

export const settle: Benchmark = {
  name: 'settle',
  description: 'POST /v1/orders 202 latency and the time from 202 to a settled order, at 500/s',
  run: async (ctx) => {
    const rate = ctx.profile.name === 'quick' ? 100 : 500;
    return withTempDir('settle', (dir) =>
      onDeployment('embedded', dir, async ({ url }) => {
        const result = await paced(
          url,
          { method: 'POST', paths: ['/v1/orders'], body: orderBody(), rate },
          ctx.profile,
        );
        const { latency, unsettled } = await settleTimes(dir, 60_000);
        const method = `from the log: settling event's occurredAt minus OrderPlaced's (includes the warm-up orders), n=${latency.count}, ${unsettled} unsettled after 60 s`;
        return [
          {
            benchmark: 'settle',
            name: `embedded: POST /v1/orders 202 p50 at ${rate}/s`,
            value: result.latency.p50,
            unit: 'ms',
          },
          {
            benchmark: 'settle',
            name: `embedded: POST /v1/orders 202 p99 at ${rate}/s`,
            value: result.latency.p99,
            unit: 'ms',
            note: latencyNote(result.latency, result, rate),
          },
          {
            benchmark: 'settle',
            name: `embedded: 202 to settled p50 at ${rate}/s`,
            value: latency.count === 0 ? null : latency.p50,
            unit: 'ms',
            note: method,
          },
          {
            benchmark: 'settle',
            name: `embedded: 202 to settled p99 at ${rate}/s`,
            value: latency.count === 0 ? null : latency.p99,
            unit: 'ms',
            note: `p99.9 ${latency.p999} ms, max ${latency.max} ms`,
          },
        ] satisfies Row[];
      }),
    );
  },
};
