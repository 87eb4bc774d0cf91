/**
 * The only reader of `process.env`. Options are validated once at start-up, then frozen.
 */
import path from 'node:path';
import { ConfigError } from './errors.js';

export const ROLES = ['all', 'api', 'relay', 'projector', 'worker'] as const;
export type Role = (typeof ROLES)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type Config = Readonly<{
  /** @default 3000 */
  port: number;
  /** @default '127.0.0.1' (use 0.0.0.0 in containers) */
  host: string;
  role: Role;
  /** @default './data' */
  dataDir: string;
  /** @default `sqlite:<dataDir>/events.db` */
  eventStoreUrl: URL;
  /** @default 'memory:' */
  busUrl: URL;
  /** @default `sqlite:<dataDir>/read.db` */
  readStoreUrl: URL;
  /** The read-store URL as given; MongoDB seed lists (`host1,host2`) are not WHATWG URLs. */
  readStoreConnection: string;
  /** @default 'memory:' */
  cacheUrl: URL;
  /** Number of bus partitions; fixed for the life of a deployment. @default 4 */
  partitions: number;
  /** Partitions the projectors of this process own (role `projector`). @default every partition */
  projectorPartitions: readonly number[] | undefined;
  /** Longest a query waits for `Streamfold-Min-Position`. @default 2000 */
  readYourWritesTimeoutMs: number;
  /** Most command requests in flight before new ones get 503. @default 5000 */
  maxInFlightCommands: number;
  /** Longest shutdown waits for projections to drain. @default 10000 */
  shutdownDrainMs: number;
  /** How long an answered `Idempotency-Key` is remembered. @default 86_400_000 (24 h) */
  idempotencyTtlMs: number;
  /** Where notifications go: `log:` or an http(s) webhook URL. @default 'log:' */
  notifierUrl: URL;
  /** Attempts before a workflow step is dead-lettered. @default 5 */
  workflowMaxAttempts: number;
  /** First back-off between workflow attempts; doubles up to 5 s. @default 100 */
  workflowRetryMs: number;
  /** How long a projection's replaced generation stays readable after a rebuild. @default 60000 */
  rebuildGraceMs: number;
  /** @default 'info' */
  logLevel: LogLevel;
}>;

type Env = Readonly<Record<string, string | undefined>>;

/** Every variable Streamfold reads, with its default, for docs and error messages. */
export const ENV_DOC: Readonly<Record<string, string>> = {
  PORT: '3000',
  HOST: '127.0.0.1',
  STREAMFOLD_ROLE: 'all',
  STREAMFOLD_DATA_DIR: './data',
  STREAMFOLD_EVENTSTORE_URL: 'sqlite:<data dir>/events.db',
  STREAMFOLD_BUS_URL: 'memory:',
  STREAMFOLD_READSTORE_URL: 'sqlite:<data dir>/read.db',
  STREAMFOLD_CACHE_URL: 'memory:',
  STREAMFOLD_PARTITIONS: '4',
  STREAMFOLD_PROJECTOR_PARTITIONS: 'all partitions',
  STREAMFOLD_READ_YOUR_WRITES_TIMEOUT_MS: '2000',
  STREAMFOLD_MAX_INFLIGHT_COMMANDS: '5000',
  STREAMFOLD_SHUTDOWN_DRAIN_MS: '10000',
  STREAMFOLD_IDEMPOTENCY_TTL_MS: '86400000',
  STREAMFOLD_NOTIFIER_URL: 'log:',
  STREAMFOLD_WORKFLOW_MAX_ATTEMPTS: '5',
  STREAMFOLD_WORKFLOW_RETRY_MS: '100',
  STREAMFOLD_REBUILD_GRACE_MS: '60000',
  STREAMFOLD_LOG_LEVEL: 'info',
};

export function loadConfig(env: Env = process.env): Config {
  const dataDir = path.resolve(text(env, 'STREAMFOLD_DATA_DIR', './data'));
  const config: Config = {
    port: integer(env, 'PORT', 3000, 0, 65_535),
    host: text(env, 'HOST', '127.0.0.1'),
    role: oneOf(env, 'STREAMFOLD_ROLE', ROLES, 'all'),
    dataDir,
    eventStoreUrl: url(
      env,
      'STREAMFOLD_EVENTSTORE_URL',
      `sqlite:${path.join(dataDir, 'events.db')}`,
      ['sqlite:', 'esdb:', 'kurrentdb:'],
    ),
    busUrl: url(env, 'STREAMFOLD_BUS_URL', 'memory:', ['memory:', 'nats:']),
    readStoreUrl: url(env, 'STREAMFOLD_READSTORE_URL', `sqlite:${path.join(dataDir, 'read.db')}`, [
      'sqlite:',
      'mongodb:',
      'mongodb+srv:',
    ]),
    readStoreConnection: text(
      env,
      'STREAMFOLD_READSTORE_URL',
      `sqlite:${path.join(dataDir, 'read.db')}`,
    ),
    cacheUrl: url(env, 'STREAMFOLD_CACHE_URL', 'memory:', ['memory:', 'redis:', 'rediss:']),
    partitions: integer(env, 'STREAMFOLD_PARTITIONS', 4, 1, 1024),
    projectorPartitions: partitionList(
      env,
      'STREAMFOLD_PROJECTOR_PARTITIONS',
      integer(env, 'STREAMFOLD_PARTITIONS', 4, 1, 1024),
    ),
    readYourWritesTimeoutMs: integer(
      env,
      'STREAMFOLD_READ_YOUR_WRITES_TIMEOUT_MS',
      2000,
      0,
      60_000,
    ),
    maxInFlightCommands: integer(env, 'STREAMFOLD_MAX_INFLIGHT_COMMANDS', 5000, 1, 1_000_000),
    shutdownDrainMs: integer(env, 'STREAMFOLD_SHUTDOWN_DRAIN_MS', 10_000, 0, 600_000),
    idempotencyTtlMs: integer(env, 'STREAMFOLD_IDEMPOTENCY_TTL_MS', 86_400_000, 1, 30 * 86_400_000),
    notifierUrl: url(env, 'STREAMFOLD_NOTIFIER_URL', 'log:', ['log:', 'http:', 'https:']),
    workflowMaxAttempts: integer(env, 'STREAMFOLD_WORKFLOW_MAX_ATTEMPTS', 5, 1, 100),
    workflowRetryMs: integer(env, 'STREAMFOLD_WORKFLOW_RETRY_MS', 100, 1, 60_000),
    rebuildGraceMs: integer(env, 'STREAMFOLD_REBUILD_GRACE_MS', 60_000, 0, 86_400_000),
    logLevel: oneOf(env, 'STREAMFOLD_LOG_LEVEL', LOG_LEVELS, 'info'),
  };
  return Object.freeze(config);
}

/** The file path of a `sqlite:` URL; relative paths resolve against the working directory. */
export function sqlitePath(url: URL): string {
  const raw = decodeURIComponent(url.href.slice('sqlite:'.length)).replace(/^\/\//, '');
  if (raw === ':memory:') return raw;
  if (raw === '') throw new ConfigError(`${url.href} names no file; write sqlite:./data/events.db`);
  return path.resolve(raw);
}

function text(env: Env, name: string, fallback: string): string {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? fallback : value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}=${raw} is not a whole number from ${min} to ${max}`, {
      variable: name,
    });
  }
  return value;
}

/** A comma-separated list of distinct partitions below `partitions`, e.g. `0,1`. */
function partitionList(env: Env, name: string, partitions: number): readonly number[] | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const items = raw.split(',').map((item) => item.trim());
  const values = items.map(Number);
  const bad = items.some(
    (item, i) => !/^\d+$/.test(item) || (values[i] ?? partitions) >= partitions,
  );
  if (bad || new Set(values).size !== values.length) {
    throw new ConfigError(
      `${name}=${raw} is not a comma-separated list of distinct partitions from 0 to ${partitions - 1}`,
      { variable: name },
    );
  }
  return Object.freeze(values);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = text(env, name, fallback);
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name}=${raw} is not one of ${allowed.join(', ')}`, { variable: name });
  }
  return raw as T;
}

function url(env: Env, name: string, fallback: string, schemes: readonly string[]): URL {
  const raw = text(env, name, fallback);
  let parsed: URL;
  try {
    // A MongoDB seed list names several hosts; validate the rest of the URL with one of them.
    parsed = new URL(raw.replace(/^(mongodb(?:\+srv)?:\/\/(?:[^@/]*@)?)([^,/]+),[^/?]*/, '$1$2'));
  } catch (cause) {
    throw new ConfigError(`${name}=${raw} is not a URL (expected one of ${schemes.join(' ')}…)`, {
      variable: name,
      cause: String(cause),
    });
  }
  if (!schemes.includes(parsed.protocol)) {
    throw new ConfigError(
      `${name}=${raw}: scheme ${parsed.protocol} is not supported here; use one of ${schemes.join(' ')}`,
      { variable: name },
    );
  }
  return parsed;
}
