/**
 * The distributed Cache: Redis through node-redis, shared by every API process and projector.
 * Sets and invalidations run as Lua scripts (see `scripts.ts`), so a slow reader can never put
 * back a value older than a projector's invalidation, whichever processes they run in.
 *
 * Redis is never a source of truth and must never take the service down: commands fail fast
 * (no offline queue, a short command timeout, a circuit breaker) and callers fall back to the
 * read store. The client keeps reconnecting in the background, so the cache heals by itself.
 */
import { createClient } from 'redis';
import {
  ClosedError,
  ConfigError,
  ErrorCodes,
  StreamfoldError,
  ValidationError,
} from '../../errors.js';
import type { Cache, CacheSetOptions } from '../cache.js';
import { createCircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.js';
import { LostInvalidations } from './lost-invalidations.js';
import { invalidateWithMarker, setIfNotStale, type Script } from './scripts.js';

export type RedisCacheOptions = Readonly<{
  /** `redis://[user:password@]host[:port][/db]` or `rediss://…` for TLS. */
  url: string;
  /**
   * Prepended to every key, so that several deployments (or test runs) can share one Redis.
   * @default 'streamfold:cache:'
   */
  keyPrefix?: string;
  /** Lifetime of an entry set without `ttlMs`, in milliseconds. @default 60_000 */
  defaultTtlMs?: number;
  /**
   * How long an invalidation marker is kept. It must outlive any reader's store load that
   * started before the invalidation; once it is gone, the harm is the memory cache's: an older
   * value may be set again, and lives at most one entry TTL. @default 600_000
   */
  invalidationTtlMs?: number;
  /** Longest one command may take before the call fails. @default 500 */
  commandTimeoutMs?: number;
  /** Longest a connection attempt may take. @default 1000 */
  connectTimeoutMs?: number;
  /** Longest pause between reconnection attempts. @default 2000 */
  maxReconnectDelayMs?: number;
  /**
   * Invalidations that failed while Redis was unreachable are remembered (those keys are misses
   * meanwhile) and replayed when it answers again; beyond this many keys the whole prefix is
   * flushed instead. @default 10_000
   */
  maxLostInvalidations?: number;
  /** @default { failureThreshold: 3, cooldownMs: 1000 } */
  breaker?: CircuitBreakerOptions;
  /** Told about connection errors, at most once per `maxReconnectDelayMs`. @default none */
  onError?: (error: Error) => void;
}>;

/** Redis could not answer; the caller should use the read store instead. */
export class CacheUnavailableError extends StreamfoldError {
  constructor(message: string, cause?: unknown) {
    // OVERLOADED is the catalogue's "unavailable, retry later"; it maps to 503 if it ever
    // reaches HTTP, which the document reader's fallback prevents.
    super(ErrorCodes.OVERLOADED, message, cause === undefined ? undefined : { cause });
  }
}

export function createRedisCache(options: RedisCacheOptions): Cache {
  const settings = validate(options);
  const breaker = createCircuitBreaker(
    settings.breaker,
    () => new CacheUnavailableError('Redis cache unavailable (circuit open)'),
  );
  const client = createClient({
    url: options.url,
    disableOfflineQueue: true,
    // Bounds what waits to be written; node-redis's own timeout only covers that wait, so
    // replies that never come are timed out in `withTimeout` below.
    commandsQueueMaxLength: 10_000,
    commandOptions: { timeout: settings.commandTimeoutMs },
    socket: {
      connectTimeout: settings.connectTimeoutMs,
      reconnectStrategy: (retries) =>
        Math.min(50 * 2 ** Math.min(retries, 10), settings.maxReconnectDelayMs),
    },
  });
  reportErrors(client, settings.maxReconnectDelayMs, options.onError);
  // Commands wait for the first connection attempt to end, so a fresh process does not miss
  // the cache for nothing; after that, an offline client fails them at once.
  const firstAttempt = new Promise<void>((resolve) => {
    client.once('ready', resolve);
    client.once('error', () => resolve());
  });
  // Not awaited: the service starts, and serves from the read store, while Redis is down.
  client.connect().catch((error: unknown) => options.onError?.(asError(error)));

  let closed = false;
  const lost = new LostInvalidations(settings.maxLostInvalidations);
  let repairing: Promise<void> | undefined;
  const entryKey = (key: string) => `${settings.keyPrefix}{${key}}`;
  const markerKey = (key: string) => `${settings.keyPrefix}{${key}}:invalidated`;

  async function command<T>(what: string, action: () => Promise<T>): Promise<T> {
    if (closed) throw new ClosedError('Redis cache');
    await firstAttempt;
    const result = await breaker.run(async () => {
      try {
        return await withTimeout(action(), settings.commandTimeoutMs);
      } catch (error) {
        const message = `Redis cache ${what} failed: ${asError(error).message}`;
        throw new CacheUnavailableError(message, error);
      }
    });
    // Redis answers again: replay what it missed meanwhile.
    startRepair();
    return result;
  }

  /** Starts replaying lost invalidations in the background, unless one is under way. */
  function startRepair(): void {
    if (closed || !lost.needsRepair || repairing !== undefined) return;
    repairing = repair().finally(() => (repairing = undefined));
  }

  function evalScript(script: Script, keys: string[], args: string[]): Promise<unknown> {
    return client.evalSha(script.sha1, { keys, arguments: args }).catch((error: unknown) => {
      // The first run on a server (or after SCRIPT FLUSH) loads the script.
      if (!asError(error).message.startsWith('NOSCRIPT')) throw error;
      return client.eval(script.source, { keys, arguments: args });
    });
  }

  async function invalidateNow(keys: readonly string[], position: string): Promise<void> {
    for (let i = 0; i < keys.length; i += INVALIDATE_CHUNK) {
      const chunk = keys.slice(i, i + INVALIDATE_CHUNK);
      const redisKeys = chunk.flatMap((key) => [entryKey(key), markerKey(key)]);
      await evalScript(invalidateWithMarker, redisKeys, [
        position,
        String(settings.invalidationTtlMs),
      ]);
    }
  }

  async function repair(): Promise<void> {
    const work = lost.take();
    try {
      await command('repair', async () => {
        if (work.flush) await flushNamespace(client, settings.keyPrefix);
        for (const [position, keys] of work.byPosition) await invalidateNow(keys, position);
      });
      lost.settle(true);
    } catch {
      // Still unreachable (or the circuit is open): the next blocked read tries again.
      lost.settle(false);
    }
  }

  return {
    async get(key) {
      if (lost.blocks(key) && !closed) {
        startRepair();
        return undefined;
      }
      return command('get', async () => {
        const [value, position] = await client.hmGet(entryKey(key), ['v', 'p']);
        return value == null || position == null ? undefined : { value, position };
      });
    },

    async set(key, entry, setOptions?: CacheSetOptions) {
      const ttl = setOptions?.ttlMs ?? settings.defaultTtlMs;
      if (!isPositiveInteger(ttl)) {
        throw new ValidationError('ttlMs must be a positive integer', { ttlMs: ttl });
      }
      if (lost.blocks(key) && !closed) {
        startRepair();
        return false;
      }
      return command('set', async () => {
        const keys = [entryKey(key), markerKey(key)];
        const args = [entry.value, entry.position, String(ttl)];
        return (await evalScript(setIfNotStale, keys, args)) === 1;
      });
    },

    async invalidate(keys, position) {
      try {
        await command('invalidate', () => invalidateNow(keys, position));
      } catch (error) {
        if (error instanceof CacheUnavailableError) lost.record(keys, position);
        throw error;
      }
    },

    /** Idempotent; every other method rejects with ClosedError afterwards. */
    async close() {
      if (closed) return;
      closed = true;
      await repairing;
      // Nothing in flight is worth waiting for: the cache holds no data of record.
      client.destroy();
    },
  };
}

/** Keys per invalidation script call, so one call never blocks Redis for long. */
const INVALIDATE_CHUNK = 256;

/** Drops every key under the prefix (UNLINK frees memory off Redis's main thread). */
async function flushNamespace(client: RedisClient, prefix: string): Promise<void> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  for await (const keys of client.scanIterator({ MATCH: pattern, COUNT: 1000 })) {
    if (keys.length > 0) await client.unlink(keys);
  }
}

type RedisClient = ReturnType<typeof createClient>;

type Settings = Required<Omit<RedisCacheOptions, 'onError' | 'url'>>;

function validate(options: RedisCacheOptions): Settings {
  let parsed: URL;
  try {
    parsed = new URL(options.url);
  } catch (cause) {
    throw new ConfigError(`Redis URL ${options.url} is not a URL`, { cause: String(cause) });
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new ConfigError(`Redis URL ${parsed.protocol}… must start with redis: or rediss:`);
  }
  const settings: Settings = {
    keyPrefix: options.keyPrefix ?? 'streamfold:cache:',
    defaultTtlMs: options.defaultTtlMs ?? 60_000,
    invalidationTtlMs: options.invalidationTtlMs ?? 600_000,
    commandTimeoutMs: options.commandTimeoutMs ?? 500,
    connectTimeoutMs: options.connectTimeoutMs ?? 1000,
    maxReconnectDelayMs: options.maxReconnectDelayMs ?? 2000,
    maxLostInvalidations: options.maxLostInvalidations ?? 10_000,
    breaker: options.breaker ?? {},
  };
  for (const name of [
    'defaultTtlMs',
    'invalidationTtlMs',
    'commandTimeoutMs',
    'connectTimeoutMs',
    'maxReconnectDelayMs',
    'maxLostInvalidations',
  ] as const) {
    if (!isPositiveInteger(settings[name])) {
      throw new ConfigError(`${name} must be a positive integer`, { [name]: settings[name] });
    }
  }
  return settings;
}

/**
 * node-redis emits 'error' on every failed reconnection; an unhandled 'error' event would crash
 * the process, and logging each one would flood the log while Redis is down.
 */
function reportErrors(
  client: { on(event: 'error', listener: (error: Error) => void): unknown },
  intervalMs: number,
  onError: ((error: Error) => void) | undefined,
): void {
  let last = Number.NEGATIVE_INFINITY;
  client.on('error', (error) => {
    const now = performance.now();
    if (onError === undefined || now - last < intervalMs) return;
    last = now;
    onError(error);
  });
}

/**
 * A hung server (paused, or a black-holed network) never answers; the command's promise then
 * settles only once the connection drops, so the caller stops waiting after `ms`.
 */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no reply within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function isPositiveInteger(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0;
}
