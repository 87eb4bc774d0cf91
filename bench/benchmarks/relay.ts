/**
 * Relay: events per second from the SQLite log to NATS JetStream, with the relay in its own
 * process (STREAMFOLD_ROLE=relay, lease and checkpoint in NATS KV), over a log seeded
 * beforehand. Timed from the relay's start to its stored checkpoint reaching the log's head
 * (the checkpoint only moves once every earlier publish is acknowledged by JetStream).
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { connect } from 'nats';
import { startServer } from '../lib/children.js';
import { withTempDir } from '../lib/harness.js';
import { round } from '../lib/histogram.js';
import { orSlot } from '../lib/slots.js';
import { deleteNatsStream, NATS_URL } from '../lib/streamfold.js';
import type { Benchmark, Row } from '../lib/types.js';
import { runWorker } from '../lib/children.js';
import type { SeedArg, SeedResult } from '../workers/seed.worker.js';

const NAME = 'nats: relay throughput (log → JetStream, acknowledged)';

async function checkpointReached(stream: string, head: string, timeoutMs: number): Promise<number> {
  const nc = await connect({ servers: NATS_URL });
  const started = performance.now();
  try {
    for (;;) {
      const kv = await nc.jetstream().views.kv(`${stream}-checkpoints`);
      const entry = await kv.get('relay');
      if (entry !== null && entry.string() >= head) return (performance.now() - started) / 1000;
      if (performance.now() - started > timeoutMs) throw new Error(`relay did not reach ${head}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await nc.close();
  }
}

export const relay: Benchmark = {
  name: 'relay',
  description: 'relay throughput from the SQLite log to NATS JetStream',
  run: ({ profile, log }) =>
    orSlot('relay', [{ name: NAME, unit: 'events/s' }], () =>
      withTempDir('relay', async (dir) => {
        const seeded = await runWorker<SeedResult>('workers/seed.worker.ts', {
          path: path.join(dir, 'events.db'),
          orders: profile.relayOrders,
          eventsPerOrder: 4,
        } satisfies SeedArg);
        log(`seeded ${seeded.events} events in ${seeded.seconds.toFixed(1)} s`);
        const stream = `bench-relay-${randomUUID().slice(0, 8)}`;
        const started = performance.now();
        const server = await startServer('servers/streamfold.server.ts', {
          dataDir: dir,
          env: {
            STREAMFOLD_EVENTSTORE_URL: `sqlite:${path.join(dir, 'events.db')}`,
            STREAMFOLD_READSTORE_URL: `sqlite:${path.join(dir, 'read.db')}`,
            STREAMFOLD_BUS_URL: `${NATS_URL}?stream=${stream}`,
            STREAMFOLD_ROLE: 'relay',
          },
        });
        try {
          const startup = (performance.now() - started) / 1000;
          const seconds = await checkpointReached(stream, seeded.head, 600_000);
          return [
            {
              benchmark: 'relay',
              name: NAME,
              value: Math.round(seeded.events / seconds),
              unit: 'events/s',
              note: `${seeded.events} events in ${round(seconds, 2)} s after the process was ready (start-up ${round(startup, 1)} s), 4 partitions, checkpoint polled every 50 ms`,
            },
          ] satisfies Row[];
        } finally {
          await server.stop();
          await deleteNatsStream(stream);
        }
      }),
    ),
};
