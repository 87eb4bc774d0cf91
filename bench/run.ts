/**
 * `npm run bench [-- [--quick] [name ...]]`: runs the benchmarks in order (all of them when no
 * name is given) and writes the results to bench/results/. Benchmarks whose figures are ratios
 * to the ceiling bring the ceiling along, so that each ratio comes from one run. Children run
 * from JavaScript compiled once at the start (lib/build.ts), not under tsx.
 */
import path from 'node:path';
import { baseline } from './benchmarks/baseline.js';
import { ceiling } from './benchmarks/ceiling.js';
import { freshness } from './benchmarks/freshness.js';
import { ingest } from './benchmarks/ingest.js';
import { peer } from './benchmarks/peer.js';
import { query } from './benchmarks/query.js';
import { replay } from './benchmarks/replay.js';
import { settle } from './benchmarks/settle.js';
import { relay } from './benchmarks/relay.js';
import { compileForChildren } from './lib/build.js';
import { ROOT, runChildrenFrom } from './lib/children.js';
import { machine, writeReport } from './lib/report.js';
import { PROFILES, type Benchmark, type Profile, type Row } from './lib/types.js';

const ALL: readonly Benchmark[] = [
  ceiling,
  ingest,
  settle,
  freshness,
  relay,
  query,
  replay,
  peer,
  baseline,
];
const NEEDS_CEILING = new Set(['ingest', 'query']);

function select(args: readonly string[]): Benchmark[] {
  const names = args.filter((arg) => !arg.startsWith('--'));
  const unknown = names.filter((name) => !ALL.some((b) => b.name === name));
  if (unknown.length > 0) {
    throw new Error(
      `Unknown benchmark ${unknown.join(', ')}; choose from ${ALL.map((b) => b.name).join(', ')}`,
    );
  }
  if (names.length === 0) return [...ALL];
  const wanted = new Set(names);
  if (names.some((name) => NEEDS_CEILING.has(name))) wanted.add('ceiling');
  return ALL.filter((b) => wanted.has(b.name));
}

async function main(args: readonly string[]): Promise<void> {
  const profile = args.includes('--quick') ? PROFILES.quick : PROFILES.full;
  const chosen = select(args);
  const date = new Date().toISOString();
  const host = machine();
  const started = performance.now();
  const rows: Row[] = [];
  const log = (message: string) => process.stdout.write(`  ${message}\n`);
  const build = await compileForChildren(ROOT);
  runChildrenFrom(build.dir);
  log(`children compiled in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  try {
    await runAll(chosen, profile, rows, log);
  } finally {
    runChildrenFrom(undefined);
    build.remove();
  }
  const seconds = (performance.now() - started) / 1000;
  const file = writeReport(path.join(ROOT, 'bench', 'results'), {
    date,
    profile: profile.name,
    benchmarks: chosen.map((b) => b.name),
    seconds,
    machine: host,
    rows,
  });
  process.stdout.write(`results: ${path.relative(ROOT, file)} (${seconds.toFixed(0)} s)\n`);
  if (rows.some((row) => row.name === 'run failed')) process.exitCode = 1;
}

/** Runs the benchmarks one after another, adding their rows to `rows`. */
async function runAll(
  chosen: readonly Benchmark[],
  profile: Profile,
  rows: Row[],
  log: (message: string) => void,
): Promise<void> {
  for (const benchmark of chosen) {
    const t0 = performance.now();
    process.stdout.write(`${benchmark.name}: ${benchmark.description}\n`);
    try {
      rows.push(...(await benchmark.run({ profile, earlier: rows, log })));
    } catch (error) {
      // One broken benchmark must not cost the others' figures; its row says what happened.
      const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
      rows.push({
        benchmark: benchmark.name,
        name: 'run failed',
        value: null,
        unit: '',
        note: message ?? '',
      });
      process.stderr.write(
        `${benchmark.name} failed: ${error instanceof Error ? error.stack : String(error)}\n`,
      );
    }
    for (const row of rows.filter((r) => r.benchmark === benchmark.name)) {
      const ratio = row.ratio === undefined ? '' : ` (${row.ratio}×)`;
      log(`${row.name}: ${row.value ?? '–'} ${row.unit}${ratio}`);
    }
    log(`${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}

await main(process.argv.slice(2));
