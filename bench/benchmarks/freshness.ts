/**
 * Freshness: at a steady 1,000 commands/s, how long after a command's response the read model
 * contains it. Each order placed is read back with `Streamfold-Min-Position`; the query is
 * answered as soon as the order view has passed the command's position (an event-driven wait
 * in the server, no polling), so the measured time is an upper bound: the lag plus one query
 * round trip on this machine.
 */
import { orderBody } from '../lib/checkout.js';
import { latencyNote, paced, withTempDir } from '../lib/harness.js';
import { orSlot } from '../lib/slots.js';
import { onDeployment, type Topology } from '../lib/streamfold.js';
import type { BenchContext, Benchmark, Row } from '../lib/types.js';

const TARGET_P99_MS = { embedded: 5, nats: 20 } as const;

function names(topology: Topology, rate: number) {
  return {
    p50: `${topology}: response to read model p50 at ${rate}/s`,
    p99: `${topology}: response to read model p99 at ${rate}/s`,
    command: `${topology}: POST /v1/orders p99 at ${rate}/s (with the read-backs)`,
  };
}

async function freshnessOn(topology: Topology, ctx: BenchContext): Promise<readonly Row[]> {
  const rate = ctx.profile.freshnessRate;
  const n = names(topology, rate);
  const target = TARGET_P99_MS[topology];
  return withTempDir(`freshness-${topology}`, (dir) =>
    onDeployment(topology, dir, async ({ url }) => {
      const result = await paced(
        url,
        { method: 'POST', paths: ['/v1/orders'], body: orderBody(), rate, freshness: true },
        ctx.profile,
      );
      // An empty histogram summarises as zeros: no read-back succeeded, so there is no figure.
      const fresh = result.freshness?.count === 0 ? undefined : result.freshness;
      const stale = result.notFresh ?? 0;
      const method = `upper bound: command response to the answer of a Streamfold-Min-Position query (includes one query round trip); n=${fresh?.count ?? 0}, ${stale} read-backs timed out`;
      return [
        {
          benchmark: 'freshness',
          name: n.p50,
          value: fresh?.p50 ?? null,
          unit: 'ms',
          note: method,
        },
        {
          benchmark: 'freshness',
          name: n.p99,
          value: fresh?.p99 ?? null,
          unit: 'ms',
          target: `≤ ${target} ms`,
          ...(fresh === undefined ? {} : { met: fresh.p99 <= target && stale === 0 }),
          note: `p99.9 ${fresh?.p999 ?? '-'} ms, max ${fresh?.max ?? '-'} ms`,
        },
        {
          benchmark: 'freshness',
          name: n.command,
          value: result.latency.p99,
          unit: 'ms',
          note: latencyNote(result.latency, result, rate),
        },
      ] satisfies Row[];
    }),
  );
}

export const freshness: Benchmark = {
  name: 'freshness',
  description: "time from a command's response to the read model containing it, at 1,000/s",
  run: async (ctx) => {
    const rows = [...(await freshnessOn('embedded', ctx))];
    const n = names('nats', ctx.profile.freshnessRate);
    rows.push(
      ...(await orSlot(
        'freshness',
        [
          { name: n.p50, unit: 'ms' },
          { name: n.p99, unit: 'ms', target: '≤ 20 ms' },
          { name: n.command, unit: 'ms' },
        ],
        () => freshnessOn('nats', ctx),
      )),
    );
    return rows;
  },
};
