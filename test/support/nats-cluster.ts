/**
 * A distributed Streamfold on one machine: an `api`, relays and projectors as separate child
 * processes sharing SQLite files (WAL) in a temp dir and one NATS, with a JetStream stream and KV
 * buckets unique to the cluster, all deleted on dispose.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect } from 'nats';
import { startServerProcess, type ServerProcess } from './server-process.js';

export type NatsCluster = Readonly<{
  stream: string;
  dataDir: string;
  env: Readonly<Record<string, string>>;
  api: ServerProcess;
  relays: ServerProcess[];
  projectors: ServerProcess[];
  startRelay(): Promise<ServerProcess>;
  startProjector(partitions: string): Promise<ServerProcess>;
  dispose(): Promise<void>;
}>;

export type ClusterOptions = Readonly<{
  natsUrl: string;
  partitions?: number;
  /** One projector process per entry, e.g. ['0,1', '2,3']. */
  projectorPartitions: readonly string[];
  relays?: number;
  /** Worker processes (order processing); suites that send no orders can do without. @default 1 */
  workers?: number;
  env?: Readonly<Record<string, string>>;
}>;

export async function startNatsCluster(options: ClusterOptions): Promise<NatsCluster> {
  const stream = `sf-e2e-${randomUUID().slice(0, 8)}`;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'streamfold-nats-e2e-'));
  const env = {
    STREAMFOLD_DATA_DIR: dataDir,
    STREAMFOLD_BUS_URL: `${options.natsUrl}?stream=${stream}`,
    STREAMFOLD_PARTITIONS: String(options.partitions ?? 4),
    ...options.env,
  };
  const relays: ServerProcess[] = [];
  const projectors: ServerProcess[] = [];
  const workers: ServerProcess[] = [];
  const startRelay = async () => {
    const relay = await startServerProcess({ ...env, STREAMFOLD_ROLE: 'relay' });
    relays.push(relay);
    return relay;
  };
  const startProjector = async (partitions: string) => {
    const projector = await startServerProcess({
      ...env,
      STREAMFOLD_ROLE: 'projector',
      STREAMFOLD_PROJECTOR_PARTITIONS: partitions,
    });
    projectors.push(projector);
    return projector;
  };
  // The log's schema is created by the first process; start the API first, alone.
  const api = await startServerProcess({ ...env, STREAMFOLD_ROLE: 'api' });
  await Promise.all([
    ...options.projectorPartitions.map((partitions) => startProjector(partitions)),
    ...Array.from({ length: options.relays ?? 1 }, () => startRelay()),
    ...Array.from({ length: options.workers ?? 1 }, () =>
      startServerProcess({ ...env, STREAMFOLD_ROLE: 'worker' }).then((worker) => {
        workers.push(worker);
      }),
    ),
  ]);
  return {
    stream,
    dataDir,
    env,
    api,
    relays,
    projectors,
    startRelay,
    startProjector,
    async dispose() {
      await Promise.all(
        [api, ...relays, ...projectors, ...workers].map((child) => child.kill('SIGKILL')),
      );
      await deleteNatsObjects(options.natsUrl, stream);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function deleteNatsObjects(url: string, stream: string): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await nc.jetstreamManager();
    for (const name of [stream, `KV_${stream}-checkpoints`, `KV_${stream}-leases`]) {
      await jsm.streams.delete(name).catch(() => false);
    }
  } finally {
    await nc.close();
  }
}
