/**
 * The composition root: the only module that imports both ports and adapters. It reads the
 * configuration, picks an adapter per URL, wires the roles, serves HTTP, and shuts down in order.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino, type Logger } from 'pino';
import { createCommandHandler, type CommandHandler } from './commands/command-handler.js';
import { createDeadLetterStore } from './commands/dead-letters.js';
import { createLogNotifier } from './commands/log/log-notifier.js';
import type { Notifier } from './commands/notifier.js';
import { createWebhookNotifier } from './commands/webhook/webhook-notifier.js';
import { createWorkflowRunner, type WorkflowRunner } from './commands/workflow-runner.js';
import { notificationWorkflow } from './commands/workflows/notification.workflow.js';
import { orderProcessingWorkflow } from './commands/workflows/order-processing.workflow.js';
import { createSqliteIdempotencyStore } from './commands/sqlite/sqlite-idempotency-store.js';
import { loadConfig, sqlitePath, type Config } from './config.js';
import { ConfigError, StreamfoldError } from './errors.js';
import { buildApp, type App } from './http/app.js';
import { checkoutProjections } from './projections/index.js';
import { createProjector, type CommittedChange, type Projector } from './projections/projector.js';
import type { ReadStore } from './projections/read-store.js';
import type { Projection } from './projections/projection.js';
import {
  createActiveCollections,
  routeDocuments,
  routeReadStore,
} from './projections/rebuild/active-collections.js';
import { projectionsOverview } from './projections/rebuild/overview.js';
import { createRebuildManager } from './projections/rebuild/rebuild-manager.js';
import { createProjectionRegistry } from './projections/rebuild/registry.js';
import { createMongoReadStore } from './projections/mongo/mongo-read-store.js';
import { createSqliteReadStore } from './projections/sqlite/sqlite-read-store.js';
import type { Cache } from './queries/cache.js';
import type { ProjectionProgress } from './queries/consistency.js';
import { invalidateChanged } from './queries/cache-invalidation.js';
import { createDocumentReader } from './queries/document-reader.js';
import { createMemoryCache } from './queries/memory/memory-cache.js';
import { createRedisCache } from './queries/redis/redis-cache.js';
import type { ChangeFeed } from './queries/change-feed.js';
import { documentChanges } from './queries/live/document-changes.js';
import { createInProcessChangeFeed } from './queries/memory/in-process-change-feed.js';
import { createNatsChangeFeed } from './queries/nats/nats-change-feed.js';
import type { EventBus } from './streams/event-bus.js';
import type { EventStore, Position } from './streams/event-store.js';
import { createInProcessBus } from './streams/memory/in-process-bus.js';
import { partitionOf } from './streams/partition.js';
import { comparePositions, minPosition } from './streams/position.js';
import { createEsdbEventStore } from './streams/esdb/esdb-event-store.js';
import { createRelay, type Relay } from './streams/relay.js';
import { createNatsBus } from './streams/nats/nats-bus.js';
import { connectRemoteRoles, natsBusOptions, startBackgroundRole } from './distributed.js';
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
  if (config.role === 'relay' || config.role === 'projector' || config.role === 'worker') {
    return startBackgroundRole(config, logger, {
      eventStore: () => createEventStore(config),
      readStore: () => createReadStore(config),
      workers: () => startWorkerRole(config, logger),
      changeFeed: () => createChangeFeed(config, logger),
    });
  }
  const eventStore = createEventStore(config);
  const bus = await createBus(config);
  const readStore = createReadStore(config);
  const cache = createCache(config, logger);
  const changes = await createChangeFeed(config, logger);

  const projectors = new Map<string, Projector>();
  // An `api` process serves HTTP only; its projections run in `projector` processes.
  const remote = config.role === 'api' ? await connectRemoteRoles(config, cache) : undefined;
  // Queries read each projection's active generation, which a rebuild replaces (issue 8).
  const registry = createProjectionRegistry(readStore);
  const active = createActiveCollections({
    registry,
    projections: checkoutProjections,
    onError: (err) => logger.warn({ err }, 'projection registry not read; keeping its last answer'),
  });
  const liveProjector = (projection: Projection, collection: string) =>
    createProjector({
      projection,
      bus,
      store: readStore,
      collection,
      logger: logger.child({ projection: projection.name }),
      onCommit: (change) => afterCommit(change, cache, changes),
    });
  const rebuilds =
    remote === undefined
      ? createRebuildManager({
          events: eventStore,
          store: readStore,
          registry,
          projections: checkoutProjections,
          partitions: config.partitions,
          projectors,
          createProjector: liveProjector,
          graceMs: config.rebuildGraceMs,
          onSwitched: () => active.refresh(),
          logger: logger.child({ role: 'rebuild' }),
        })
      : undefined;
  for (const [name, collection] of (await rebuilds?.prepare()) ?? []) {
    const projection = checkoutProjections.find((p) => p.name === name);
    if (projection !== undefined) projectors.set(name, liveProjector(projection, collection));
  }
  await active.refresh();
  active.start();
  await Promise.all([...projectors.values()].map((projector) => projector.start()));

  const commands = createCommandHandler({ store: eventStore });
  const notifier = createNotifier(config, logger);
  const workflows =
    remote === undefined
      ? startWorkflows(config, { bus, eventStore, readStore, commands, notifier, logger })
      : [];
  await Promise.all(workflows.map((runner) => runner.start()));

  const relay = createRelay({
    store: eventStore,
    bus,
    checkpoints: checkpointsIn(readStore),
    logger: logger.child({ role: 'relay' }),
  });
  if (remote === undefined) await startRelay(relay, bus, [...projectors.values(), ...workflows]);
  await rebuilds?.resume();

  // Kept beside the event log: an answered key must outlive a restart as the events do.
  const idempotency = createSqliteIdempotencyStore({
    path: join(config.dataDir, 'idempotency.db'),
  });
  let ready = true;
  const app = await buildApp(
    {
      commands,
      deadLetters: createDeadLetterStore(readStore),
      documents: routeDocuments(createDocumentReader({ store: readStore, cache }), active),
      readStore: routeReadStore(readStore, active),
      progress: remote?.progress ?? progressOf(projectors, config.partitions),
      readiness: () => ({ ready, checks: { eventStore: 'ok', readStore: 'ok', relay: 'ok' } }),
      changes,
      idempotency,
      ...(rebuilds === undefined
        ? {}
        : {
            projectionAdmin: {
              manager: rebuilds,
              overview: () =>
                projectionsOverview({
                  events: eventStore,
                  registry,
                  projections: checkoutProjections,
                  projectors,
                  manager: rebuilds,
                }),
            },
          }),
    },
    {
      logger,
      readYourWritesTimeoutMs: config.readYourWritesTimeoutMs,
      maxInFlightCommands: config.maxInFlightCommands,
      idempotencyTtlMs: config.idempotencyTtlMs,
    },
  );
  const address = await app.listen({ port: config.port, host: config.host });

  let stopping: Promise<void> | undefined;
  async function shutdown(): Promise<void> {
    ready = false;
    logger.info('shutting down: no new requests, finishing in-flight commands');
    await app.close();
    await idempotency.close();
    // An interrupted rebuild keeps its shadow and checkpoint and resumes on the next start.
    await rebuilds?.stop();
    await active.stop();
    const head = await eventStore.headPosition();
    if (remote === undefined) {
      await drain(relay, [...projectors.values()], head, config.shutdownDrainMs, logger);
    }
    await Promise.all(workflows.map((runner) => runner.stop()));
    await notifier.close();
    await relay.stop();
    await Promise.all([...projectors.values()].map((projector) => projector.stop()));
    await remote?.close();
    await bus.close();
    await eventStore.close();
    await readStore.close();
    await cache.close();
    await changes.close();
    logger.info('stopped');
  }
  return {
    app,
    url: address,
    config,
    stop: () => (stopping ??= shutdown()),
  };
}

/** The `worker` role: the workflows on every partition, with what they need. */
async function startWorkerRole(config: Config, logger: Logger) {
  const eventStore = createEventStore(config);
  const bus = await createBus(config);
  const readStore = createReadStore(config);
  const commands = createCommandHandler({ store: eventStore });
  const notifier = createNotifier(config, logger);
  const deps = { bus, eventStore, readStore, commands, notifier, logger };
  const workflows = startWorkflows(config, deps);
  await Promise.all(workflows.map((runner) => runner.start()));
  return async () => {
    await Promise.all(workflows.map((runner) => runner.stop()));
    await notifier.close();
    await bus.close();
    await eventStore.close();
    await readStore.close();
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
    `${variable}=${url.href}: no adapter serves ${url.protocol} here; see the README's configuration table`,
    { variable },
  );
}

function createNotifier(config: Config, logger: Logger): Notifier {
  if (config.notifierUrl.protocol === 'log:')
    return createLogNotifier(logger.child({ role: 'notifier' }));
  return createWebhookNotifier({ url: config.notifierUrl.href });
}

/** The workflows (order processing, notification outbox) on every partition. */
function startWorkflows(
  config: Config,
  deps: Readonly<{
    bus: EventBus;
    eventStore: EventStore;
    readStore: ReadStore;
    commands: CommandHandler;
    notifier: Notifier;
    logger: Logger;
  }>,
): WorkflowRunner[] {
  return [orderProcessingWorkflow, notificationWorkflow(deps.notifier)].map((workflow) =>
    createWorkflowRunner({
      workflow,
      bus: deps.bus,
      store: deps.eventStore,
      readStore: deps.readStore,
      commands: deps.commands,
      // Like projectors, workers split partitions between processes: one owner per partition
      // keeps each stream's events in order.
      ...(config.projectorPartitions === undefined
        ? {}
        : { partitions: config.projectorPartitions }),
      maxAttempts: config.workflowMaxAttempts,
      retry: { initialMs: config.workflowRetryMs },
      logger: deps.logger.child({ workflow: workflow.name }),
    }),
  );
}

/** Also used by the CLI (`src/cli.ts`), which runs rebuilds against the same stores. */
export function createEventStore(config: Config): EventStore {
  const url = config.eventStoreUrl;
  if (url.protocol === 'sqlite:') {
    // A relay in its own process sees the API's appends only by polling the file: it polls
    // often so freshness is not the poll interval. In one process appends wake it directly.
    const pollIntervalMs = config.role === 'relay' ? 5 : 100;
    return createSqliteEventStore({ path: sqlitePath(url), pollIntervalMs });
  }
  if (url.protocol === 'esdb:' || url.protocol === 'kurrentdb:') {
    return createEsdbEventStore({ url: url.href });
  }
  return notBuiltYet('STREAMFOLD_EVENTSTORE_URL', url);
}

async function createBus(config: Config): Promise<EventBus> {
  if (config.busUrl.protocol === 'memory:')
    return createInProcessBus({ partitions: config.partitions });
  return createNatsBus(natsBusOptions(config));
}

/** Also used by the CLI (`src/cli.ts`), which runs rebuilds against the same stores. */
export function createReadStore(config: Config): ReadStore {
  const url = config.readStoreUrl;
  if (url.protocol === 'sqlite:') return createSqliteReadStore({ path: sqlitePath(url) });
  // The driver reads the database, read preference and write concern from the URL itself.
  return createMongoReadStore({ url: config.readStoreConnection });
}

function createCache(config: Config, logger: Logger): Cache {
  const url = config.cacheUrl;
  if (url.protocol === 'memory:') return createMemoryCache();
  if (url.protocol === 'redis:' || url.protocol === 'rediss:') {
    // Queries fall back to the read store while Redis is unreachable; say so, without flooding.
    const log = logger.child({ cache: 'redis' });
    // `?keyPrefix=` lets deployments (or test runs) share one Redis; the driver gets the rest.
    const server = new URL(url.href);
    const keyPrefix = server.searchParams.get('keyPrefix');
    server.search = '';
    return createRedisCache({
      url: server.href,
      ...(keyPrefix === null ? {} : { keyPrefix }),
      onError: (err) => log.warn({ err }, 'Redis cache unavailable; queries read the store'),
    });
  }
  return notBuiltYet('STREAMFOLD_CACHE_URL', url);
}

/** The live feed: in-process with the in-process bus, NATS core subjects with NATS. */
async function createChangeFeed(config: Config, logger: Logger): Promise<ChangeFeed> {
  if (config.busUrl.protocol === 'memory:') return createInProcessChangeFeed();
  const { url, stream } = natsBusOptions(config);
  const log = logger.child({ feed: 'live' });
  return createNatsChangeFeed({
    url,
    subjectPrefix: `${stream}.live`,
    onError: (err) => log.warn({ err }, 'live change dropped'),
  });
}

/**
 * After a projector's bulk write: drop the cached copies, and tell live watchers. Each is
 * independent of the other; neither may make the durable batch run again.
 */
async function afterCommit(change: CommittedChange, cache: Cache, changes: ChangeFeed) {
  const [invalidated, published] = await Promise.allSettled([
    invalidateChanged(cache, change),
    changes.publish(documentChanges(change)),
  ]);
  if (invalidated.status === 'rejected') throw invalidated.reason;
  if (published.status === 'rejected') throw published.reason;
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
async function startRelay(
  relay: Relay,
  bus: EventBus,
  projectors: readonly Pick<Projector, 'lowestCheckpoint'>[],
) {
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

function progressOf(
  projectors: ReadonlyMap<string, Projector>,
  partitions: number,
): ProjectionProgress {
  return {
    position: (name) => projectors.get(name)?.progress(),
    waitFor: async (name, position, timeoutMs, streamId) => {
      const projector = projectors.get(name);
      if (projector === undefined) return false;
      return streamId === undefined
        ? projector.waitFor(position, { timeoutMs })
        : projector.waitForPartition(partitionOf(streamId, partitions), position, { timeoutMs });
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
