/**
 * Streamfold under test, in its own processes. `embedded` is one process with every role;
 * `nats` is the distributed topology on one machine: API, relay, projector and worker (the order
 * workflow) processes sharing the SQLite files and a NATS JetStream bus, so both topologies do
 * the same work per order. A topology this build cannot run yet is reported as
 * a slot with the reason, never as a number.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { connect } from 'nats';
import { startServer, type Server } from './children.js';
import { registerProducts } from './harness.js';

export type Topology = 'embedded' | 'nats';

export const NATS_URL = process.env.STREAMFOLD_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

export type Deployment = Readonly<{
  url: string;
  servers: readonly Server[];
  /** The JetStream stream of a `nats` deployment, unique to it and deleted with it. */
  stream?: string;
}>;

/** Thrown when the topology is not part of this build (the server refused its configuration). */
export class NotAvailable extends Error {}

function baseEnv(dataDir: string): Record<string, string> {
  return {
    STREAMFOLD_EVENTSTORE_URL: `sqlite:${path.join(dataDir, 'events.db')}`,
    STREAMFOLD_READSTORE_URL: `sqlite:${path.join(dataDir, 'read.db')}`,
  };
}

async function serve(dataDir: string, env: Record<string, string>): Promise<Server> {
  try {
    return await startServer('servers/streamfold.server.ts', {
      dataDir,
      env: { ...baseEnv(dataDir), ...env },
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const refused = /not part of this build|needs a shared bus|is not supported/.exec(message);
    if (refused !== null) {
      const line = message.split('\n').find((text) => text.includes(refused[0])) ?? message;
      throw new NotAvailable(line.trim());
    }
    throw error;
  }
}

/** Starts the topology on `dataDir` (fresh, or seeded beforehand) and registers the products. */
export async function deploy(
  topology: Topology,
  dataDir: string,
  options: { register?: boolean } = {},
): Promise<Deployment> {
  const servers: Server[] = [];
  let stream: string | undefined;
  try {
    if (topology === 'embedded') {
      servers.push(await serve(dataDir, {}));
    } else {
      // A stream (and the KV buckets named after it) of its own: a relay checkpoint left by an
      // earlier run on the shared server must never apply to this fresh log.
      stream = `bench-${randomUUID().slice(0, 8)}`;
      const bus = {
        STREAMFOLD_BUS_URL: `${NATS_URL}?stream=${stream}`,
        STREAMFOLD_PARTITIONS: '4',
      };
      // The roles find each other through NATS in whatever order they come up, as they would
      // in production, so they start together: set-up, before anything is measured.
      const roles = ['projector', 'worker', 'relay', 'api'].map((role) =>
        serve(dataDir, { ...bus, STREAMFOLD_ROLE: role }),
      );
      const started = await Promise.allSettled(roles);
      for (const role of started) if (role.status === 'fulfilled') servers.push(role.value);
      const failed = started.find((role) => role.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    }
    const url = servers.at(-1)?.url ?? '';
    if (options.register !== false) await registerProducts(url);
    return stream === undefined ? { url, servers } : { url, servers, stream };
  } catch (error) {
    await Promise.all(servers.map((server) => server.stop()));
    if (stream !== undefined) await deleteNatsStream(stream);
    throw error;
  }
}

export async function undeploy(deployment: Deployment): Promise<void> {
  for (const server of [...deployment.servers].reverse()) await server.stop();
  if (deployment.stream !== undefined) await deleteNatsStream(deployment.stream);
}

/** Deletes a deployment's JetStream stream and its KV buckets from the shared server. */
export async function deleteNatsStream(stream: string): Promise<void> {
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await nc.jetstreamManager();
    for (const name of [stream, `KV_${stream}-checkpoints`, `KV_${stream}-leases`]) {
      await jsm.streams.delete(name).catch(() => false);
    }
  } finally {
    await nc.close();
  }
}

/** Runs `use` on a deployment and always stops it; an unavailable topology becomes a slot row. */
export async function onDeployment<T>(
  topology: Topology,
  dataDir: string,
  use: (deployment: Deployment) => Promise<T>,
  options: { register?: boolean } = {},
): Promise<T> {
  const deployment = await deploy(topology, dataDir, options);
  try {
    return await use(deployment);
  } finally {
    await undeploy(deployment);
  }
}
