/**
 * The peer: the same checkout workload (place an order: load the stream, decide, append; fold
 * the order view) on Emmett 0.38 with its SQLite event store and on Streamfold embedded, one
 * process each, same concurrency, same run. Emmett's SQLite store shares one connection per
 * store and closes it after each operation, so concurrent commands in one process fail; the
 * like-for-like figures are therefore at concurrency 1, and concurrency 32 is reported too.
 */
import { runWorker } from '../lib/children.js';
import { round } from '../lib/histogram.js';
import { withTempDir } from '../lib/harness.js';
import type { PeerArg, PeerResult } from '../lib/peer-workload.js';
import type { Benchmark, Profile, Row } from '../lib/types.js';

type Side = 'streamfold' | 'emmett';

function runSide(side: Side, concurrency: number, profile: Profile): Promise<PeerResult> {
  return withTempDir(`peer-${side}`, (dir) =>
    runWorker<PeerResult>(
      `workers/peer-${side}.worker.ts`,
      {
        dir,
        concurrency,
        warmupSeconds: profile.warmupSeconds,
        seconds: profile.peerSeconds,
        commandTimeoutMs: profile.peerCommandTimeoutMs,
      } satisfies PeerArg,
      { timeoutMs: (profile.peerSeconds + profile.warmupSeconds) * 1000 * 4 + 120_000 },
    ),
  );
}

function describe(result: PeerResult): string {
  const failed =
    result.failures === 0 ? '' : `, ${result.failures} failed (${result.firstFailure ?? '?'})`;
  return `n=${result.latency.count}, p50 ${result.latency.p50} ms${failed}`;
}

function rows(concurrency: number, sf: PeerResult, em: PeerResult): Row[] {
  const at = `concurrency ${concurrency}`;
  const ratio = (a: number, b: number) => (b > 0 ? { ratio: round(a / b, 3) } : {});
  const usable = em.failures === 0 && em.latency.count > 0;
  return [
    {
      benchmark: 'peer',
      name: `Emmett: commands/s, ${at}`,
      value: em.commandsPerSecond,
      unit: 'cmd/s',
      note: describe(em),
    },
    {
      benchmark: 'peer',
      name: `Streamfold: commands/s, ${at}`,
      value: sf.commandsPerSecond,
      unit: 'cmd/s',
      ...ratio(sf.commandsPerSecond, em.commandsPerSecond),
      ratioTo: `peer: Emmett: commands/s, ${at}`,
      target: 'ahead of the peer',
      ...(usable ? { met: sf.commandsPerSecond > em.commandsPerSecond } : {}),
      note: describe(sf),
    },
    {
      benchmark: 'peer',
      name: `Emmett: command p99, ${at}`,
      value: usable ? em.latency.p99 : null,
      unit: 'ms',
    },
    {
      benchmark: 'peer',
      name: `Streamfold: command p99, ${at}`,
      value: sf.latency.p99,
      unit: 'ms',
      ...(usable
        ? { ...ratio(sf.latency.p99, em.latency.p99), ratioTo: `peer: Emmett: command p99, ${at}` }
        : {}),
      target: 'ahead of the peer',
      ...(usable ? { met: sf.latency.p99 < em.latency.p99 } : {}),
    },
    {
      benchmark: 'peer',
      name: `Emmett: order-view rebuild, ${at} log`,
      value: usable ? em.projectionEventsPerSecond : null,
      unit: 'events/s',
      note: usable
        ? `${em.projectedEvents} events; consumer + projection processor, batches of 500, 1 ms pull interval`
        : 'not run: the command run failed',
    },
    {
      benchmark: 'peer',
      name: `Streamfold: order-view rebuild, ${at} log`,
      value: sf.projectionEventsPerSecond,
      unit: 'events/s',
      ...(usable
        ? {
            ...ratio(sf.projectionEventsPerSecond, em.projectionEventsPerSecond),
            ratioTo: `peer: Emmett: order-view rebuild, ${at} log (logs of different sizes)`,
          }
        : {}),
      note: `${sf.projectedEvents} events; relay → in-process bus → projector`,
    },
  ];
}

export const peer: Benchmark = {
  name: 'peer',
  description: 'the checkout workload on Emmett + SQLite and on Streamfold embedded',
  run: async ({ profile }) => {
    const out: Row[] = [];
    for (const concurrency of [1, profile.connections]) {
      const em = await runSide('emmett', concurrency, profile);
      const sf = await runSide('streamfold', concurrency, profile);
      out.push(...rows(concurrency, sf, em));
    }
    return out;
  },
};
