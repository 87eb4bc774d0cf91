/**
 * The peer workload on Emmett 0.38 with its SQLite event store, in one process, written the
 * way Emmett's documentation shows: a `CommandHandler` built from `evolve` and `initialState`
 * runs the decision and appends; the order view is an inline projection, written in the
 * append's transaction. Projection throughput is measured with Emmett's own consumer and a
 * projection processor rebuilding the view from the start of the log.
 *
 * The decision and the fold are Streamfold's pure functions on both sides, so the comparison
 * is of the machinery around them, not of the domain code.
 */
import path from 'node:path';
import {
  CommandHandler,
  projection,
  projections,
  type Event,
  type ReadEvent,
} from '@event-driven-io/emmett';
import {
  getSQLiteEventStore,
  sqliteConnection,
  type SQLiteConnection,
  type SQLiteReadEventMetadata,
} from '@event-driven-io/emmett-sqlite';
import { orderDecider, type PlaceOrder } from '../../src/commands/order/order.decider.js';
import { orderStreamId, type OrderEvent } from '../../src/commands/order/order.events.js';
import { orderViewProjection } from '../../src/projections/index.js';
import type { JsonObject, RecordedEvent } from '../../src/streams/event-store.js';
import { childArg, reportResult } from '../lib/children.js';
import { commandLoops, rate, type PeerArg, type PeerResult } from '../lib/peer-workload.js';

type OrderEmmettEvent = Event<OrderEvent['type'], JsonObject, { occurredAt: string }>;

const handle = CommandHandler<ReturnType<typeof orderDecider.initialState>, OrderEmmettEvent>({
  evolve: (state, event) => orderDecider.evolve(state, event as unknown as OrderEvent),
  initialState: orderDecider.initialState,
});

/** Emmett's read event in the shape the shared order-view fold takes. */
function recorded(event: ReadEvent<OrderEmmettEvent>): RecordedEvent {
  const metadata = event.metadata as unknown as {
    streamName: string;
    streamPosition: bigint;
    globalPosition: bigint;
    occurredAt?: string;
  };
  return {
    id: event.metadata.messageId,
    type: event.type,
    streamId: metadata.streamName,
    revision: Number(metadata.streamPosition) - 1,
    position: String(metadata.globalPosition).padStart(20, '0'),
    data: event.data,
    metadata: { occurredAt: metadata.occurredAt ?? '' },
  };
}

/** The order view as an Emmett SQLite projection: a JSON document per order in a table. */
function orderView(table: string) {
  return projection<OrderEmmettEvent, SQLiteReadEventMetadata, { connection: SQLiteConnection }>({
    name: table,
    canHandle: ['OrderPlaced', 'OrderConfirmed', 'OrderRejected', 'OrderCancelled', 'OrderShipped'],
    handle: async (events, { connection }) => {
      for (const event of events) {
        const doc = recorded(event);
        const id = typeof doc.data.orderId === 'string' ? doc.data.orderId : '';
        // node-sqlite3 answers a missing row with undefined, whatever the declared type says.
        const row =
          (await connection.querySingle<{ doc: string }>(`SELECT doc FROM ${table} WHERE id = ?`, [
            id,
          ])) ?? undefined;
        const current = row === undefined ? undefined : (JSON.parse(row.doc) as never);
        const next = orderViewProjection.evolve(current, doc, { partition: 0 });
        if (next === null) await connection.command(`DELETE FROM ${table} WHERE id = ?`, [id]);
        else
          await connection.command(
            `INSERT INTO ${table} (id, doc) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`,
            [id, JSON.stringify(next)],
          );
      }
    },
  });
}

async function createTables(fileName: string): Promise<void> {
  const connection = sqliteConnection({ fileName });
  for (const table of ['order_view', 'order_view_rebuild']) {
    await connection.command(
      `CREATE TABLE IF NOT EXISTS ${table} (id TEXT PRIMARY KEY, doc TEXT NOT NULL)`,
    );
  }
  connection.close();
}

async function main(arg: PeerArg): Promise<PeerResult> {
  const fileName = path.join(arg.dir, 'emmett.db');
  await createTables(fileName);
  const eventStore = getSQLiteEventStore({
    fileName,
    projections: projections.inline([orderView('order_view')]),
  });
  const place = (command: PlaceOrder) =>
    handle(
      eventStore,
      orderStreamId(command.data.orderId),
      (state) =>
        orderDecider.decide(command, state).map((event) => ({
          ...event,
          metadata: { occurredAt: new Date().toISOString() },
        })) as OrderEmmettEvent[],
    );
  const timeout = arg.commandTimeoutMs;
  await commandLoops(arg.concurrency, arg.warmupSeconds, 'warmup', place, timeout);
  const measured = await commandLoops(arg.concurrency, arg.seconds, 'run', place, timeout);

  if (measured.failures > 0) {
    // The store is left in an unknown state; a rebuild over it would measure nothing useful.
    return { ...failedRun(measured), projectionEventsPerSecond: 0, projectedEvents: 0 };
  }
  const events = measured.count + (await countWarmup(fileName, measured.count));
  const consumer = eventStore.consumer({ pulling: { batchSize: 500, pullingFrequencyInMs: 1 } });
  let seen = 0;
  consumer.processor({
    processorId: 'order-view-rebuild',
    projection: orderView('order_view_rebuild'),
    startFrom: 'BEGINNING',
    stopAfter: () => ++seen >= events,
  });
  const started = performance.now();
  await consumer.start();
  const seconds = (performance.now() - started) / 1000;
  await consumer.close();
  return {
    commandsPerSecond: rate(measured.count, measured.elapsed),
    latency: measured.latency,
    failures: measured.failures,
    projectionEventsPerSecond: rate(seen, seconds),
    projectedEvents: seen,
    ...(measured.firstFailure === undefined ? {} : { firstFailure: measured.firstFailure }),
  };
}

function failedRun(measured: Awaited<ReturnType<typeof commandLoops>>) {
  return {
    commandsPerSecond: rate(measured.count, measured.elapsed),
    latency: measured.latency,
    failures: measured.failures,
    ...(measured.firstFailure === undefined ? {} : { firstFailure: measured.firstFailure }),
  };
}

/** Events in the log besides the measured run's: the warm-up's orders. */
async function countWarmup(fileName: string, measured: number): Promise<number> {
  const connection = sqliteConnection({ fileName });
  const row = await connection.querySingle<{ n: number }>('SELECT COUNT(*) AS n FROM emt_messages');
  connection.close();
  return (row?.n ?? measured) - measured;
}

reportResult(await main(childArg<PeerArg>()));
