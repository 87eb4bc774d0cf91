/**
 * What a benchmark is and what it reports. Every figure is a row of a table; the runner writes
 * the rows to JSON and Markdown together with the machine and the date.
 */

/** Durations and sizes of one run: `quick` is a smoke check, `full` is what results quote. */
export type Profile = Readonly<{
  name: 'quick' | 'full';
  /** Load before measuring, so that JIT, caches and SQLite pages are warm. */
  warmupSeconds: number;
  /** Closed-loop throughput runs (autocannon). */
  throughputSeconds: number;
  /** Open-loop runs at a fixed rate (CO-free latency). */
  pacedSeconds: number;
  /**
   * Rate of the open-loop latency runs of ingest, query and baseline. Freshness always runs at
   * the 1,000/s the issue names; quick mode keeps the others light so it ends within a minute.
   */
  latencyRate: number;
  /** Commands per second of the freshness run: the 1,000/s in full runs. */
  freshnessRate: number;
  /** Connections of every closed-loop run, the same on both sides of every ratio. */
  connections: number;
  /** Events generated for the replay benchmark. */
  replayEvents: number;
  /** Orders (of four events each) in the log the relay benchmark publishes. */
  relayOrders: number;
  /** Distinct orders the uncached query cycles through (more than the cache holds). */
  uncachedOrders: number;
  /** Seconds each peer implementation runs its command loop. */
  peerSeconds: number;
  /**
   * How long a peer command may go unanswered before it counts as failed. Emmett's store hangs
   * at concurrency 32, so each of its two loops (warm-up, run) lasts this long at least.
   */
  peerCommandTimeoutMs: number;
  /** Sequential GETs that sample the query cache's hit ratio. */
  hitRatioSamples: number;
}>;

export const PROFILES: Readonly<Record<Profile['name'], Profile>> = {
  quick: {
    name: 'quick',
    warmupSeconds: 0.2,
    throughputSeconds: 0.5,
    pacedSeconds: 0.5,
    latencyRate: 100,
    freshnessRate: 200,
    connections: 32,
    replayEvents: 20_000,
    relayOrders: 1_000,
    uncachedOrders: 11_000,
    peerSeconds: 0.5,
    peerCommandTimeoutMs: 1000,
    hitRatioSamples: 200,
  },
  full: {
    name: 'full',
    warmupSeconds: 2,
    throughputSeconds: 10,
    pacedSeconds: 10,
    latencyRate: 1000,
    freshnessRate: 1000,
    connections: 32,
    replayEvents: 1_000_000,
    relayOrders: 50_000,
    uncachedOrders: 30_000,
    peerSeconds: 10,
    peerCommandTimeoutMs: 5000,
    hitRatioSamples: 1000,
  },
};

/** A latency summary in milliseconds. */
export type Latency = Readonly<{
  p50: number;
  p99: number;
  p999: number;
  max: number;
  count: number;
}>;

/**
 * One measured figure. `ratio` compares it with the row named in `ratioTo` from the same run;
 * `target` says what the issue asks for and whether this run met it.
 */
export type Row = Readonly<{
  benchmark: string;
  name: string;
  value: number | null;
  unit: string;
  ratio?: number;
  ratioTo?: string;
  target?: string;
  met?: boolean;
  /** How it was measured, or why it was not. */
  note?: string;
}>;

export type BenchContext = Readonly<{
  profile: Profile;
  /** Rows of benchmarks that already ran in this run, for ratios (the ceiling first). */
  earlier: readonly Row[];
  log: (message: string) => void;
}>;

export type Benchmark = Readonly<{
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<readonly Row[]>;
}>;
