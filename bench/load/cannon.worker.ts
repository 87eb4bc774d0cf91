/**
 * Closed-loop load with autocannon, in its own process: a fixed number of connections, each
 * sending its next request as soon as the previous one is answered. This measures throughput;
 * its latencies suffer from coordinated omission, so latency figures come from `paced.worker`.
 */
import autocannon from 'autocannon';
import { childArg, reportResult } from '../lib/children.js';

export type CannonArg = Readonly<{
  url: string;
  connections: number;
  seconds: number;
  warmupSeconds: number;
  method: 'GET' | 'POST';
  /** Requests cycle through these paths in order, across all connections. */
  paths: readonly string[];
  body?: string;
}>;

export type CannonResult = Readonly<{
  /** Successful (2xx) responses per second. */
  throughput: number;
  ok: number;
  non2xx: number;
  errors: number;
  seconds: number;
}>;

async function load(arg: CannonArg, seconds: number) {
  let next = 0;
  const headers: Record<string, string> =
    arg.body === undefined ? {} : { 'content-type': 'application/json' };
  return autocannon({
    url: arg.url,
    connections: arg.connections,
    duration: seconds,
    // autocannon stops at the first sample tick after `duration`; with its default of one tick
    // a second, a half-second (quick) run would last a whole second.
    sampleInt: 100,
    requests: [
      {
        method: arg.method,
        headers,
        ...(arg.body === undefined ? {} : { body: arg.body }),
        setupRequest: (request) => {
          const path = arg.paths[next % arg.paths.length] ?? '/';
          next++;
          return { ...request, path };
        },
      },
    ],
  });
}

async function main(arg: CannonArg): Promise<CannonResult> {
  if (arg.warmupSeconds > 0) await load(arg, arg.warmupSeconds);
  const result = await load(arg, arg.seconds);
  return {
    throughput: result['2xx'] / result.duration,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    seconds: result.duration,
  };
}

reportResult(await main(childArg<CannonArg>()));
