/**
 * The on-the-request-path baseline: the same API, adapters, projections and workflows as
 * Streamfold, but composed the naive way. Each command appends, updates every read model,
 * publishes to the bus, and runs the workflows the new events trigger (reserve stock, price,
 * confirm, notify), whose own commands do the same, all before it answers: the response waits
 * for the whole order processing, which is exactly the work Streamfold does after the 202. The
 * read-model updates are serialised, as a transaction around them would be: two requests
 * folding into the same document (a customer's list, a minute's sales) must not lose each
 * other's update.
 */
import path from 'node:path';
import { pino } from 'pino';
import { createCommandHandler, type CommandHandler } from '../../src/commands/command-handler.js';
import { createLogNotifier } from '../../src/commands/log/log-notifier.js';
import { workflowContext, type Workflow } from '../../src/commands/workflow.js';
import { notificationWorkflow } from '../../src/commands/workflows/notification.workflow.js';
import { orderProcessingWorkflow } from '../../src/commands/workflows/order-processing.workflow.js';
import { buildApp } from '../../src/http/app.js';
import { checkoutProjections } from '../../src/projections/index.js';
import { collectionName } from '../../src/projections/projector.js';
import { createSqliteReadStore } from '../../src/projections/sqlite/sqlite-read-store.js';
import { invalidateChanged } from '../../src/queries/cache-invalidation.js';
import { createDocumentReader } from '../../src/queries/document-reader.js';
import { createMemoryCache } from '../../src/queries/memory/memory-cache.js';
import type { Position, RecordedEvent } from '../../src/streams/event-store.js';
import { createInProcessBus } from '../../src/streams/memory/in-process-bus.js';
import { partitionOf } from '../../src/streams/partition.js';
import { isAfter, maxPosition } from '../../src/streams/position.js';
import { createSqliteEventStore } from '../../src/streams/sqlite/sqlite-event-store.js';
import { childArg, reportReady } from '../lib/children.js';

const PARTITIONS = 4;
const { dataDir } = childArg<{ dataDir: string }>();
const eventStore = createSqliteEventStore({ path: path.join(dataDir, 'events.db') });
const readStore = createSqliteReadStore({ path: path.join(dataDir, 'read.db') });
const cache = createMemoryCache();
const bus = createInProcessBus({ partitions: PARTITIONS });
for (const projection of checkoutProjections) {
  await readStore.ensureCollection({
    name: collectionName(projection),
    indexes: projection.indexes,
  });
}

let applied: Position | undefined;
let serial: Promise<unknown> = Promise.resolve();

/** Folds the events into every read model that handles them, one document write at a time. */
async function updateReadModels(events: readonly RecordedEvent[]): Promise<void> {
  for (const event of events) {
    const ctx = { partition: partitionOf(event.streamId, PARTITIONS) };
    for (const projection of checkoutProjections) {
      if (!projection.handles.includes(event.type)) continue;
      const id = projection.documentId(event, ctx);
      if (id === undefined) continue;
      const collection = collectionName(projection);
      const doc = await readStore.get(collection, id);
      const next = projection.evolve(doc?.value, event, ctx);
      const op =
        next === null
          ? ({ kind: 'delete', id, position: event.position } as const)
          : ({ kind: 'upsert', id, position: event.position, value: next } as const);
      await readStore.bulkWrite(collection, [op]);
      const changed = next === null ? null : { position: event.position };
      await invalidateChanged(cache, {
        collection,
        position: event.position,
        documents: new Map([[id, changed]]),
      });
    }
    applied = maxPosition(applied, event.position);
  }
}

// The same workflows as the embedded server, with its default (log) notifier, silenced.
const workflows: readonly Workflow[] = [
  orderProcessingWorkflow,
  notificationWorkflow(createLogNotifier(pino({ level: 'silent' }))),
];
const running = new AbortController();

/** Runs each workflow that reacts to the events, as the workflow runner would, but inline. */
async function react(events: readonly RecordedEvent[]): Promise<void> {
  for (const event of events) {
    for (const workflow of workflows) {
      if (!workflow.handles.includes(event.type)) continue;
      await workflow.handle(event, workflowContext(workflow, event, commands, running.signal));
    }
  }
}

const inner = createCommandHandler({ store: eventStore });
const commands: CommandHandler = {
  load: inner.load,
  async execute(decider, streamId, command, options) {
    const outcome = await inner.execute(decider, streamId, command, options);
    if (outcome.events.length === 0) return outcome;
    const fromRevision = outcome.revision - outcome.events.length + 1;
    const recorded = await eventStore.readStream(streamId, { fromRevision });
    const update = serial.then(() => updateReadModels(recorded));
    serial = update.catch(() => undefined);
    await update;
    await bus.publish(recorded);
    await react(recorded);
    return outcome;
  },
};

const app = await buildApp({
  commands,
  documents: createDocumentReader({ store: readStore, cache }),
  readStore,
  // Everything is applied before the response, so a reader never has anything to wait for.
  progress: {
    position: () => applied,
    waitFor: async (_projection, position) => !isAfter(position, applied),
  },
  readiness: () => ({ ready: true, checks: { eventStore: 'ok', readStore: 'ok', relay: 'ok' } }),
});
reportReady(await app.listen({ port: 0, host: '127.0.0.1' }));
process.once('SIGTERM', () => {
  running.abort();
  void app
    .close()
    .then(() => Promise.all([bus.close(), eventStore.close(), readStore.close(), cache.close()]))
    .then(() => process.exit(0));
});
