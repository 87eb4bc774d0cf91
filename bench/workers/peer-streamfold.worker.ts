/**
 * The peer workload on Streamfold embedded, in one process: the command handler appends to the
 * SQLite event store (fsync before the append resolves); the order view is folded behind it by
 * the relay, the in-process bus and the projector, as `npm start` wires them.
 */
import path from 'node:path';
import { createCommandHandler } from '../../src/commands/command-handler.js';
import { orderDecider, type PlaceOrder } from '../../src/commands/order/order.decider.js';
import { orderStreamId } from '../../src/commands/order/order.events.js';
import { orderViewProjection } from '../../src/projections/index.js';
import { createProjector } from '../../src/projections/projector.js';
import type { ReadStore } from '../../src/projections/read-store.js';
import { createSqliteReadStore } from '../../src/projections/sqlite/sqlite-read-store.js';
import type { EventStore } from '../../src/streams/event-store.js';
import { createInProcessBus } from '../../src/streams/memory/in-process-bus.js';
import { createRelay } from '../../src/streams/relay.js';
import { createSqliteEventStore } from '../../src/streams/sqlite/sqlite-event-store.js';
import { childArg, reportResult } from '../lib/children.js';
import { commandLoops, rate, type PeerArg, type PeerResult } from '../lib/peer-workload.js';

const quiet = { info: () => undefined, warn: console.warn, error: console.error };

/** The embedded pipeline folding the order view into `readStore`. */
async function pipeline(store: EventStore, readStore: ReadStore) {
  const bus = createInProcessBus({ partitions: 4 });
  const projector = createProjector({
    projection: orderViewProjection,
    bus,
    store: readStore,
    logger: quiet,
  });
  const relay = createRelay({
    store,
    bus,
    checkpoints: {
      get: (id) => readStore.getCheckpoint(id),
      put: (id, position) => readStore.putCheckpoint({ id, position }),
    },
    logger: quiet,
  });
  await projector.start();
  await relay.start({});
  return {
    async drain() {
      const head = await store.headPosition();
      if (head !== undefined && !(await projector.waitFor(head, { timeoutMs: 600_000 }))) {
        throw new Error('the order view did not catch up');
      }
    },
    async stop() {
      await relay.stop();
      await projector.stop();
      await bus.close();
    },
  };
}

async function main(arg: PeerArg): Promise<PeerResult> {
  const store = createSqliteEventStore({ path: path.join(arg.dir, 'streamfold-events.db') });
  const readStore = createSqliteReadStore({ path: path.join(arg.dir, 'streamfold-read.db') });
  const live = await pipeline(store, readStore);
  const commands = createCommandHandler({ store });
  const place = (command: PlaceOrder) =>
    commands.execute(orderDecider, orderStreamId(command.data.orderId), command);
  const timeout = arg.commandTimeoutMs;
  await commandLoops(arg.concurrency, arg.warmupSeconds, 'warmup', place, timeout);
  const measured = await commandLoops(arg.concurrency, arg.seconds, 'run', place, timeout);
  await live.drain();
  await live.stop();

  // Projection throughput: the order view rebuilt from the whole log into a fresh store.
  const fresh = createSqliteReadStore({ path: path.join(arg.dir, 'streamfold-rebuild.db') });
  const events = (await store.readAll({ maxCount: 10_000_000 })).length;
  const started = performance.now();
  const rebuild = await pipeline(store, fresh);
  await rebuild.drain();
  const seconds = (performance.now() - started) / 1000;
  await rebuild.stop();
  await Promise.all([store.close(), readStore.close(), fresh.close()]);
  return {
    commandsPerSecond: rate(measured.count, measured.elapsed),
    latency: measured.latency,
    failures: measured.failures,
    projectionEventsPerSecond: rate(events, seconds),
    projectedEvents: events,
    ...(measured.firstFailure === undefined ? {} : { firstFailure: measured.firstFailure }),
  };
}

reportResult(await main(childArg<PeerArg>()));
