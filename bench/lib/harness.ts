/** Steps the benchmarks share: temp data, load runs, product setup, ratios to earlier rows. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CannonArg, CannonResult } from '../load/cannon.worker.js';
import type { PacedArg, PacedResult } from '../load/paced.worker.js';
import { productBody, SKUS } from './checkout.js';
import { runWorker, startServer } from './children.js';
import { round } from './histogram.js';
import type { Latency, Profile, Row } from './types.js';

/** A fresh directory under the OS temp dir, removed by `use`'s end whatever happens. */
export async function withTempDir<T>(prefix: string, use: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `streamfold-bench-${prefix}-`));
  try {
    return await use(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export type Load = Pick<CannonArg, 'method' | 'paths' | 'body'>;

/** Closed-loop throughput with the profile's connections, after its warm-up. */
export function throughput(url: string, load: Load, profile: Profile): Promise<CannonResult> {
  return runWorker<CannonResult>('load/cannon.worker.ts', {
    url,
    connections: profile.connections,
    seconds: profile.throughputSeconds,
    warmupSeconds: profile.warmupSeconds,
    ...load,
  } satisfies CannonArg);
}

/** Open-loop latency at `rate` requests per second. */
export function paced(
  url: string,
  load: Load & Pick<PacedArg, 'rate' | 'freshness'>,
  profile: Profile,
): Promise<PacedResult> {
  return runWorker<PacedResult>('load/paced.worker.ts', {
    url,
    seconds: profile.pacedSeconds,
    warmupSeconds: profile.warmupSeconds,
    drainSeconds: profile.name === 'quick' ? 2 : 10,
    ...load,
  } satisfies PacedArg);
}

/** Registers the workload's products over the API, as a client would. */
export async function registerProducts(url: string): Promise<void> {
  for (const sku of SKUS) {
    const response = await fetch(`${url}/v1/products`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: productBody(sku),
    });
    if (response.status !== 201) throw new Error(`registering ${sku}: ${response.status}`);
  }
}

/** Waits until the order view holds `orderId` at or after `position` (read your writes). */
export async function waitForOrder(
  url: string,
  orderId: string,
  position: string,
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${url}/v1/orders/${orderId}`, {
      headers: { 'streamfold-min-position': position },
    });
    await response.arrayBuffer();
    if (response.status === 200) return;
    if (Date.now() > deadline)
      throw new Error(`order ${orderId} not projected: ${response.status}`);
  }
}

export type Beside<T> = Readonly<{
  result: T;
  /** Throughput of the ceiling run just before `result`'s runs. */
  ceiling: number;
  /** Ratio-ready fields for a row. */
  ratio: Pick<Row, 'ratio' | 'ratioTo'>;
  note: string;
}>;

/**
 * Runs the ceiling with `load` right before `measure`, and gives the ratio to it. A shared
 * machine's speed drifts over a run by more than the differences we measure, so a ratio
 * compares figures taken back to back, never minutes apart. Not after: the system under test
 * may still be working off what the measurement left it, and would slow the ceiling down.
 */
export async function beside<T>(
  load: Load,
  profile: Profile,
  measure: () => Promise<T>,
  throughputOf: (result: T) => number,
): Promise<Beside<T>> {
  const ceiling = await startServer('servers/ceiling.server.ts', {});
  let before: CannonResult;
  try {
    before = await throughput(ceiling.url, load, profile);
  } finally {
    await ceiling.stop();
  }
  const result = await measure();
  const value = throughputOf(result);
  return {
    result,
    ceiling: before.throughput,
    ratio:
      before.throughput > 0
        ? {
            ratio: round(value / before.throughput, 3),
            ratioTo: 'ceiling, same load, run just before',
          }
        : {},
    note: `ceiling ${Math.round(before.throughput)} req/s just before`,
  };
}

/** The ratio of `value` to an earlier row's value in this run, when that row was measured. */
export function ratioTo(
  earlier: readonly Row[],
  benchmark: string,
  name: string,
  value: number | null,
): Pick<Row, 'ratio' | 'ratioTo'> {
  const base = earlier.find((row) => row.benchmark === benchmark && row.name === name);
  if (base?.value == null || value === null || base.value === 0) return {};
  return { ratio: round(value / base.value, 3), ratioTo: `${benchmark}: ${name}` };
}

/** Throughput rows carry their failures in the note, so a fast error is never a result. */
export function throughputNote(result: CannonResult, connections: number): string {
  const failures =
    result.non2xx + result.errors === 0
      ? 'no failures'
      : `${result.non2xx} non-2xx, ${result.errors} errors`;
  return `autocannon, ${connections} connections, ${result.seconds} s, ${failures}`;
}

export function latencyNote(latency: Latency, result: PacedResult, rate: number): string {
  const failures =
    result.non2xx + result.errors === 0
      ? ''
      : `, ${result.non2xx} non-2xx, ${result.errors} errors`;
  return `open loop at ${rate}/s (achieved ${result.achievedRate}/s), from intended send time, n=${latency.count}, p50 ${latency.p50} ms, p99.9 ${latency.p999} ms, max ${latency.max} ms${failures}`;
}
