/**
 * The peer comparison's workload, shared by both implementations: `concurrency` loops, each
 * placing orders one after another (load the stream, decide, append) for a while. Each order is
 * a new stream with the same two priced lines, decided by the same pure decider.
 */
import type { PlaceOrder } from '../../src/commands/order/order.decider.js';
import { orderItems } from './checkout.js';
import { createRecorder, round } from './histogram.js';
import type { Latency } from './types.js';

export type PeerArg = Readonly<{
  dir: string;
  concurrency: number;
  warmupSeconds: number;
  seconds: number;
  /** A command not answered within this counts as failed instead of hanging the run. */
  commandTimeoutMs: number;
}>;

export type PeerResult = Readonly<{
  commandsPerSecond: number;
  latency: Latency;
  failures: number;
  /** Events folded per second when the order view is rebuilt from the whole log. */
  projectionEventsPerSecond: number;
  projectedEvents: number;
  /** The first failure's message, if any, for the report. */
  firstFailure?: string;
}>;

export function placeOrder(i: number, run: string): PlaceOrder {
  return {
    type: 'PlaceOrder',
    data: {
      orderId: `${run}-${i}`,
      customerId: `customer-${i % 500}`,
      items: orderItems(i),
    },
  };
}

type Outcome = { count: number; failures: number; latency: Latency; firstFailure?: string };

/** Runs `place` from `concurrency` closed loops for `seconds`, timing each call. */
export async function commandLoops(
  concurrency: number,
  seconds: number,
  run: string,
  place: (command: PlaceOrder) => Promise<unknown>,
  timeoutMs: number,
): Promise<Outcome & { elapsed: number }> {
  const recorder = createRecorder();
  const outcome: Outcome = { count: 0, failures: 0, latency: recorder.summary() };
  const started = performance.now();
  const end = started + seconds * 1000;
  let next = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const command = placeOrder(next++, run);
      const t0 = performance.now();
      try {
        await withTimeout(place(command), timeoutMs);
        recorder.record(performance.now() - t0);
        outcome.count++;
      } catch (error) {
        outcome.failures++;
        outcome.firstFailure ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsed = (performance.now() - started) / 1000;
  return { ...outcome, latency: recorder.summary(), elapsed };
}

function withTimeout<T>(pending: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([pending, expired]).finally(() => clearTimeout(timer));
}

export function rate(count: number, seconds: number): number {
  return round(count / seconds, 1);
}
