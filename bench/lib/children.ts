/**
 * Child processes of a run. Servers under test and load generators each get their own process,
 * so the load never competes with the server inside one event loop. A child talks back with
 * one line on stdout: `BENCH_READY <url>` for a server, `BENCH_RESULT <json>` for a worker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
const READY = 'BENCH_READY ';
const RESULT = 'BENCH_RESULT ';

export type ChildOptions = Readonly<{
  /** Extra environment on top of this process's. */
  env?: Readonly<Record<string, string>>;
  /** Extra Node flags, for example `--cpu-prof`. */
  nodeFlags?: readonly string[];
  /** @default 120_000 */
  timeoutMs?: number;
}>;

export type Server = Readonly<{
  url: string;
  pid: number;
  output: () => string;
  /** SIGTERM, then SIGKILL after 10 s; resolves once the process has exited. */
  stop(): Promise<void>;
}>;

/** The compiled copy of the sources (see build.ts) children run from; tsx when unset. */
let build: string | undefined;

export function runChildrenFrom(dir: string | undefined): void {
  build = dir;
}

/** `bench/<script>` as Node is to start it: compiled JavaScript, or the source under tsx. */
function entry(script: string): readonly string[] {
  if (build === undefined) return ['--import', 'tsx', path.join(ROOT, 'bench', script)];
  return [path.join(build, 'bench', script.replace(/\.ts$/, '.js'))];
}

/**
 * Runs `bench/<script>`. Its argument travels as JSON in a file named in argv[2]: path lists
 * for thousands of documents are beyond what a command line may hold.
 */
function start(script: string, arg: unknown, options: ChildOptions): ChildProcess {
  const flags = [...(options.nodeFlags ?? []), ...profiling(script)];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'streamfold-bench-arg-'));
  const file = path.join(dir, 'arg.json');
  writeFileSync(file, JSON.stringify(arg));
  const child = spawn(process.execPath, [...flags, ...entry(script), file], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return child;
}

/**
 * `BENCH_CPU_PROF=<dir>` profiles every server and worker under test (not the load
 * generators) with `node --cpu-prof`, for finding what holds a figure back.
 */
function profiling(script: string): string[] {
  const dir = process.env.BENCH_CPU_PROF;
  if (dir === undefined || dir === '' || script.startsWith('load/')) return [];
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

/** Collects the output and settles on the first line with `prefix`, or when the process ends. */
function watch(child: ChildProcess, prefix: string, timeoutMs: number) {
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no ${prefix.trim()} within ${timeoutMs} ms:\n${output.slice(-4000)}`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const found = output.split('\n').find((text) => text.startsWith(prefix));
      if (found === undefined) return;
      clearTimeout(timer);
      resolve(found.slice(prefix.length));
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${prefix.trim()} missing; exit code ${code}:\n${output.slice(-4000)}`));
    });
  });
  return { line, exited, output: () => output };
}

/** Starts a server script and resolves once it listens. */
export async function startServer(
  script: string,
  arg: unknown,
  options: ChildOptions = {},
): Promise<Server> {
  const child = start(script, arg, options);
  const watched = watch(child, READY, options.timeoutMs ?? 120_000);
  const url = await watched.line;
  return {
    url: url.trim(),
    pid: child.pid ?? -1,
    output: watched.output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await watched.exited;
      clearTimeout(timer);
    },
  };
}

/** Runs a worker script to completion and returns the JSON it reported. */
export async function runWorker<T>(
  script: string,
  arg: unknown,
  options: ChildOptions = {},
): Promise<T> {
  const child = start(script, arg, options);
  const watched = watch(child, RESULT, options.timeoutMs ?? 600_000);
  const text = await watched.line;
  // The result is a worker's last word and what follows is teardown, which can hang: Emmett's
  // SQLite driver holds the exit for seconds after commands it left unanswered. A profiled
  // worker is left to exit, since that is when --cpu-prof writes the profile.
  const running = child.exitCode === null && child.signalCode === null;
  if (running && profiling(script).length === 0) child.kill('SIGKILL');
  await watched.exited;
  return JSON.parse(text) as T;
}

/** What a server prints once it listens. */
export function reportReady(url: string): void {
  process.stdout.write(`${READY}${url}\n`);
}

/** What a worker prints when done. */
export function reportResult(result: unknown): void {
  process.stdout.write(`${RESULT}${JSON.stringify(result)}\n`);
}

/** The JSON argument a child was started with. */
export function childArg<T>(): T {
  const file = process.argv[2];
  if (file === undefined) throw new Error('This script is started by bench/run.ts');
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** Stops servers whatever happens, so that no run leaves a process behind. */
export async function withServers<T>(
  servers: readonly Promise<Server>[],
  use: (started: readonly Server[]) => Promise<T>,
): Promise<T> {
  const settled = await Promise.allSettled(servers);
  const started = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  try {
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return await use(started);
  } finally {
    await Promise.all(started.map((server) => server.stop()));
  }
}
