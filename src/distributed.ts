/**
 * The composition root's distributed half (kept beside `main.ts`, which calls it): builds the
 * NATS adapters for the roles that run without the HTTP API (`relay`, `projector`, `worker`)
 * and the remote progress an `api` process needs when its projections run elsewhere.
 *
 * Every such process still serves `/healthz` and `/readyz` on `PORT`, so orchestrators can probe
 * it the same way as an API process.
 */
import Fastify from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { ConfigError } from './errors.js';
import { healthRoutes } from './http/health.routes.js';
import type { Running } from './main.js';
import { checkoutProjections } from './projections/index.js';
import type { CommittedChange } from './projections/projector.js';
import type { ReadStore } from './projections/read-store.js';
import { startProjectorRole } from './roles/projector.role.js';
import { startRelayRole } from './roles/relay.role.js';
import type { Cache } from './queries/cache.js';
import { invalidateChanged } from './queries/cache-invalidation.js';
import type { ProjectionProgress } from './queries/consistency.js';
import type { EventStore } from './streams/event-store.js';
import { createNatsBus } from './streams/nats/nats-bus.js';
import { createNatsCheckpoints } from './streams/nats/nats-checkpoints.js';
import { publishChanges, subscribeChanges } from './streams/nats/nats-changes.js';
import { createNatsLease } from './streams/nats/nats-lease.js';
import { createNatsProgress, startProgressAnnouncer } from './streams/nats/nats-progress.js';
import { createRelay } from './streams/relay.js';
import type { ChangeFeed } from './queries/change-feed.js';
import { documentChanges } from './queries/live/document-changes.js';

export type StoreFactories = Readonly<{
  eventStore: () => EventStore;
  readStore: () => ReadStore;
  /** Starts the workflows (built by `main.ts`); resolves with their stop function. */
  workers: () => Promise<() => Promise<void>>;
  /** The live-updates feed API processes serve SSE from (built by `main.ts`). */
  changeFeed: () => Promise<ChangeFeed>;
}>;

type Component = Readonly<{ name: string; stop(): Promise<void> }>;

/**
 * `nats://host:4222?stream=name`: the optional `stream` names the JetStream stream (default
 * `streamfold`); the KV buckets and progress subjects of the deployment are named after it, so
 * several deployments can share one NATS.
 */
export function natsBusOptions(config: Config): Readonly<{
  url: string;
  stream: string;
  partitions: number;
}> {
  const url = config.busUrl;
  if (url.protocol !== 'nats:') {
    throw new ConfigError(`STREAMFOLD_BUS_URL=${url.href} is not a nats:// URL`);
  }
  const stream = url.searchParams.get('stream') ?? 'streamfold';
  return { url: `nats://${url.host}`, stream, partitions: config.partitions };
}

type Names = Readonly<{ checkpoints: string; leases: string; progress: string; changes: string }>;

function namesOf(stream: string): Names {
  return {
    checkpoints: `${stream}-checkpoints`,
    leases: `${stream}-leases`,
    progress: `${stream}.progress`,
    changes: `${stream}.changes`,
  };
}

export async function startBackgroundRole(
  config: Config,
  logger: Logger,
  stores: StoreFactories,
): Promise<Running> {
  const components: Component[] = [];
  if (config.role === 'relay') components.push(...(await relayComponents(config, logger, stores)));
  if (config.role === 'projector') {
    components.push(...(await projectorComponents(config, logger, stores)));
  }
  if (config.role === 'worker') components.push({ name: 'workers', stop: await stores.workers() });
  let ready = true;
  const app = Fastify({ logger: false, forceCloseConnections: true });
  await app.register(healthRoutes, {
    readiness: () => ({ ready, checks: { role: config.role } }),
  });
  const url = await app.listen({ port: config.port, host: config.host });
  let stopping: Promise<void> | undefined;
  async function shutdown(): Promise<void> {
    ready = false;
    await app.close();
    // In reverse start order: a relay stops before the bus it publishes to closes.
    for (const component of components.reverse()) await component.stop();
    logger.info({ role: config.role }, 'stopped');
  }
  return { app, url, config, stop: () => (stopping ??= shutdown()) };
}

async function relayComponents(
  config: Config,
  logger: Logger,
  stores: StoreFactories,
): Promise<Component[]> {
  const options = natsBusOptions(config);
  const { url } = options;
  const names = namesOf(options.stream);
  const eventStore = stores.eventStore();
  const bus = await createNatsBus(options);
  const checkpoints = await createNatsCheckpoints({ url, bucket: names.checkpoints });
  const lease = await createNatsLease({
    url,
    bucket: names.leases,
    onError: (error) => logger.debug({ err: error }, 'relay lease call failed'),
  });
  const relayLogger = logger.child({ role: 'relay' });
  const role = startRelayRole({
    lease,
    logger: relayLogger,
    createRelay: () => createRelay({ store: eventStore, bus, checkpoints, logger: relayLogger }),
  });
  return [
    { name: 'event store', stop: () => eventStore.close() },
    { name: 'bus', stop: () => bus.close() },
    { name: 'checkpoints', stop: () => checkpoints.close() },
    { name: 'relay', stop: () => role.stop() },
  ];
}

async function projectorComponents(
  config: Config,
  logger: Logger,
  stores: StoreFactories,
): Promise<Component[]> {
  const options = natsBusOptions(config);
  const { url } = options;
  const names = namesOf(options.stream);
  const readStore = stores.readStore();
  const bus = await createNatsBus({
    ...options,
    onError: (error, { partition }) =>
      logger.warn({ err: error, partition }, 'bus consumer interrupted; resuming'),
  });
  const changes = await publishChanges({ url, subject: names.changes });
  const live = await stores.changeFeed();
  const role = await startProjectorRole({
    projections: checkoutProjections,
    bus,
    store: readStore,
    ...(config.projectorPartitions === undefined ? {} : { partitions: config.projectorPartitions }),
    logger,
    // Cache invalidation notices and live-update documents are independent of each other.
    onCommit: async (change: CommittedChange) => {
      const results = await Promise.allSettled([
        Promise.resolve().then(() => changes.publish(change)),
        live.publish(documentChanges(change)),
      ]);
      for (const result of results) if (result.status === 'rejected') throw result.reason;
    },
  });
  const announcer = await startProgressAnnouncer({
    url,
    subject: names.progress,
    read: () => role.progress(),
  });
  return [
    { name: 'read store', stop: () => readStore.close() },
    { name: 'bus', stop: () => bus.close() },
    { name: 'changes', stop: () => changes.close() },
    { name: 'live feed', stop: () => live.close() },
    { name: 'projectors', stop: () => role.stop() },
    { name: 'progress', stop: () => announcer.stop() },
  ];
}

export type RemoteRoles = Readonly<{ progress: ProjectionProgress; close(): Promise<void> }>;

/**
 * An `api` process learns its projections' progress from the projector processes, and drops
 * from its own cache what they changed (a shared Redis cache is invalidated by them directly).
 */
export async function connectRemoteRoles(config: Config, cache: Cache): Promise<RemoteRoles> {
  const { url, stream } = natsBusOptions(config);
  const names = namesOf(stream);
  const progress = await createNatsProgress({
    url,
    subject: names.progress,
    partitions: config.partitions,
  });
  const changes = await subscribeChanges({ url, subject: names.changes }, (change) =>
    invalidateChanged(cache, change),
  );
  return {
    progress,
    async close() {
      await changes.close();
      await progress.close();
    },
  };
}
