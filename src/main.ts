/**
 * The composition root: the only module that imports both ports and adapters. It reads the
 * configuration, picks an adapter per URL, wires the roles, serves HTTP, and shuts down in order.
 */
import { mkdirSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { pino, type Logger } from 'pino';
import { createCommandHandler } from './commands/command-handler.js';
import { loadConfig, sqlitePath, type Config } from './config.js';
import { ConfigError, StreamfoldError } from './errors.js';
import { buildApp, type App } from './http/app.js';
import { checkoutProjections } from './projections/index.js';
import { createProjector, type Projector } from './projections/projector.js';
import type { ReadStore } from './projections/read-store.js';
import { createSqliteReadStore } from './projections/sqlite/sqlite-read-store.js';
import type { Cache } from './queries/cache.js';
import type { ProjectionProgress } from './queries/consistency.js';
import { invalidateChanged } from './queries/cache-invalidation.js';
import { createDocumentReader } from './queries/document-reader.js';
import { createMemoryCache } from './queries/memory/memory-cache.js';
import type { EventBus } from './streams/event-bus.js';
import type { EventStore, Position } from './streams/event-store.js';
import { createInProcessBus } from './streams/memory/in-process-bus.js';
import { comparePositions, minPosition } from './streams/position.js';
import { createRelay, type Relay } from './streams/relay.js';
import { createSqliteEventStore } from './streams/sqlite/sqlite-event-store.js';

export type Running = Readonly<{
  app: App;
  /** The URL the API listens on. */
  url: string;
  config: Config;
  /** Graceful shutdown: stop taking requests, finish appends, drain projections, close. */
  stop(): Promise<void>;
}>;

export async function startStreamfold(config: Config, logger: Logger): Promise<Running> {
  assertSupportedTopology(config);
  mkdirSync(config.dataDir, { recursive: true });
  const eventStore = createEventStore(config);
  const bus = createBus(config);
  const readStore = createReadStore(config);
  const cache = createCache(config);

  const projectors = new Map<string, Projector>();
  for (const projection of checkoutProjections) {
    projectors.set(
      projection.name,
      createProjector({
        projection,
        bus,
        store: readStore,
        logger: logger.child({ projection: projection.name }),
        onCommit: (change) => invalidateChanged(cache, change),
      }),
    );
  }
  await Promise.all([...projectors.values()].map((projector) => projector.start()));

  const relay = createRelay({
    store: eventStore,
    bus,
    checkpoints: checkpointsIn(readStore),
    logger: logger.child({ role: 'relay' }),
  });
  await startRelay(relay, bus, [...projectors.values()]);

  let ready = true;
  const app = await buildApp(
    {
      commands: createCommandHandler({ store: eventStore }),
      documents: createDocumentReader({ store: readStore, cache }),
      readStore,
      progress: progressOf(projectors),
      readiness: () => ({ ready, checks: { eventStore: 'ok', readStore: 'ok', relay: 'ok' } }),
    },
    {
      logger,
      readYourWritesTimeoutMs: config.readYourWritesTimeoutMs,
      maxInFlightCommands: config.maxInFlightCommands,
    },
  );
  const address = await app.listen({ port: config.port, host: config.host });

  let stopping: Promise<void> | undefined;
  async function shutdown(): Promise<void> {
    ready = false;
    logger.info('shutting down: no new requests, finishing in-flight commands');
    await app.close();
    const head = await eventStore.headPosition();
    await drain(relay, [...projectors.values()], head, config.shutdownDrainMs, logger);
    await relay.stop();
    await Promise.all([...projectors.values()].map((projector) => projector.stop()));
    await bus.close();
    await eventStore.close();
    await readStore.close();
    await cache.close();
    logger.info('stopped');
  }
  return {
    app,
    url: address,
    config,
    stop: () => (stopping ??= shutdown()),
  };
}

function assertSupportedTopology(config: Config): void {
  if (config.role !== 'all' && config.busUrl.protocol === 'memory:') {
    throw new ConfigError(
      `STREAMFOLD_ROLE=${config.role} needs a shared bus (STREAMFOLD_BUS_URL=nats://…); the in-process bus only serves STREAMFOLD_ROLE=all`,
    );
  }
}

function notBuiltYet(variable: string, url: URL): never {
  throw new ConfigError(
    `${variable}=${url.href}: the ${url.protocol} adapter is not part of this build yet; use the embedded default`,
    { variable },
  );
}

function createEventStore(config: Config): EventStore {
  const url = config.eventStoreUrl;
  if (url.protocol === 'sqlite:') return createSqliteEventStore({ path: sqlitePath(url) });
  return notBuiltYet('STREAMFOLD_EVENTSTORE_URL', url);
}

function createBus(config: Config): EventBus {
  if (config.busUrl.protocol === 'memory:')
    return createInProcessBus({ partitions: config.partitions });
  return notBuiltYet('STREAMFOLD_BUS_URL', config.busUrl);
}

function createReadStore(config: Config): ReadStore {
  const url = config.readStoreUrl;
  if (url.protocol === 'sqlite:') return createSqliteReadStore({ path: sqlitePath(url) });
  return notBuiltYet('STREAMFOLD_READSTORE_URL', url);
}

function createCache(config: Config): Cache {
  if (config.cacheUrl.protocol === 'memory:') return createMemoryCache();
  return notBuiltYet('STREAMFOLD_CACHE_URL', config.cacheUrl);
}

function checkpointsIn(store: ReadStore) {
  return {
    get: (id: string) => store.getCheckpoint(id),
    put: (id: string, position: Position) => store.putCheckpoint({ id, position }),
  };
}

/**
 * A bus that forgets on restart makes the relay start from the slowest consumer's checkpoint:
 * whatever it relays twice, the projectors' position guards skip.
 */
async function startRelay(relay: Relay, bus: EventBus, projectors: readonly Projector[]) {
  if (bus.durable) return relay.start();
  let from: Position | undefined;
  let first = true;
  for (const projector of projectors) {
    const lowest = await projector.lowestCheckpoint();
    from = first ? lowest : minPosition(from, lowest);
    first = false;
    if (from === undefined) break;
  }
  return relay.start(from === undefined ? {} : { after: from });
}

function progressOf(projectors: ReadonlyMap<string, Projector>): ProjectionProgress {
  return {
    position: (name) => projectors.get(name)?.progress(),
    waitFor: async (name, position, timeoutMs) => {
      const projector = projectors.get(name);
      return projector === undefined ? false : projector.waitFor(position, { timeoutMs });
    },
  };
}

/** Waits, bounded, until everything appended has been relayed and projected. */
async function drain(
  relay: Relay,
  projectors: readonly Projector[],
  head: Position | undefined,
  timeoutMs: number,
  logger: Logger,
): Promise<void> {
  if (head === undefined) return;
  const deadline = Date.now() + timeoutMs;
  while (comparePositions(relay.position(), head) < 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const left = Math.max(0, deadline - Date.now());
  const drained = await Promise.all(projectors.map((p) => p.waitFor(head, { timeoutMs: left })));
  if (drained.includes(false))
    logger.warn({ head }, 'projections not drained in time; they resume from their checkpoints');
}

async function run(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    process.stderr.write(`streamfold: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(78);
  }
  const logger = pino({ level: config.logLevel, name: 'streamfold' });
  let running: Running;
  try {
    running = await startStreamfold(config, logger);
  } catch (error) {
    if (error instanceof StreamfoldError) {
      process.stderr.write(`streamfold: ${error.message}\n`);
      process.exit(78);
    }
    logger.fatal({ err: error }, 'failed to start');
    process.exit(1);
  }
  logger.info(
    { url: running.url, role: config.role, dataDir: config.dataDir },
    `Streamfold is serving ${running.url} (API docs at ${running.url}/docs)`,
  );
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'signal received');
    running.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void run();
}
