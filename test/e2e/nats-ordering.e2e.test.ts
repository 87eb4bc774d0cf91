/**
 * Ordering over NATS JetStream at scale: 4 partitions, two projector processes (partitions 0,1
 * and 2,3), 10,000 product events over 100 streams appended while the pipeline runs. Every
 * checkout read model must equal the fold of the log (an event overtaken by a later one of its
 * stream would be skipped by the position guard and show up as a difference), and a projection
 * in this process that counts out-of-order arrivals per stream must count none.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCommandHandler } from '../../src/commands/command-handler.js';
import { productDecider, type ProductCommand } from '../../src/commands/product/product.decider.js';
import { productEventTypes, productStreamId } from '../../src/commands/product/product.events.js';
import type { Projection } from '../../src/projections/projection.js';
import {
  collectionName,
  createProjector,
  type Projector,
} from '../../src/projections/projector.js';
import type { ReadStore } from '../../src/projections/read-store.js';
import { createSqliteReadStore } from '../../src/projections/sqlite/sqlite-read-store.js';
import type { EventStore } from '../../src/streams/event-store.js';
import { createNatsBus, type NatsBus } from '../../src/streams/nats/nats-bus.js';
import { createNatsProgress, type NatsProgress } from '../../src/streams/nats/nats-progress.js';
import { createSqliteEventStore } from '../../src/streams/sqlite/sqlite-event-store.js';
import {
  allDocuments,
  expectReadModelsToEqualFold,
  readWholeLog,
  waitForProgress,
} from '../support/fold-check.js';
import { startNatsCluster, type NatsCluster } from '../support/nats-cluster.js';
import { NATS_URL, requireService } from '../support/services.js';

const ok = await requireService('NATS', NATS_URL, 'the NATS ordering test');
const PARTITIONS = 4;
const STREAMS = 100;
const EVENTS_PER_STREAM = 100;

type Arrivals = { revision: number; applied: number; outOfOrder: number };

/** Counts, per stream, events that did not arrive right after their predecessor. */
const arrivalOrder: Projection<Arrivals> = {
  name: 'arrival-order',
  version: 1,
  handles: productEventTypes,
  indexes: [],
  documentId: (event) => event.streamId,
  evolve: (doc, event) => ({
    revision: event.revision,
    applied: (doc?.applied ?? 0) + 1,
    outOfOrder: (doc?.outOfOrder ?? 0) + (event.revision === (doc?.revision ?? -1) + 1 ? 0 : 1),
  }),
};

describe.skipIf(!ok)('per-stream order over NATS with two projector processes', () => {
  let cluster: NatsCluster;
  let events: EventStore;
  let reads: ReadStore;
  let checkStore: ReadStore;
  let bus: NatsBus;
  let checker: Projector;
  let progress: NatsProgress;

  beforeAll(async () => {
    cluster = await startNatsCluster({
      natsUrl: NATS_URL,
      partitions: PARTITIONS,
      projectorPartitions: ['0,1', '2,3'],
      workers: 0,
    });
    events = createSqliteEventStore({ path: join(cluster.dataDir, 'events.db') });
    reads = createSqliteReadStore({ path: join(cluster.dataDir, 'read.db') });
    checkStore = createSqliteReadStore({ path: join(cluster.dataDir, 'arrival-check.db') });
    bus = await createNatsBus({ url: NATS_URL, stream: cluster.stream, partitions: PARTITIONS });
    progress = await createNatsProgress({
      url: NATS_URL,
      subject: `${cluster.stream}.progress`,
      partitions: PARTITIONS,
    });
    checker = createProjector({ projection: arrivalOrder, bus, store: checkStore });
    await checker.start();
  }, 180_000);

  afterAll(async () => {
    await checker?.stop();
    await progress?.close();
    await bus?.close();
    await checkStore?.close();
    await reads?.close();
    await events?.close();
    await cluster?.dispose();
  }, 60_000);

  it(
    'delivers 10,000 events over 100 streams in stream order to every projection',
    { timeout: 300_000 },
    async () => {
      const commands = createCommandHandler({ store: events });
      const appendStarted = performance.now();
      // All streams at once, each one command after another: the log interleaves them as real
      // traffic would, and the store's group commit keeps it quick.
      await Promise.all(
        Array.from({ length: STREAMS }, async (_, s) => {
          const sku = `sku-${s}`;
          for (const command of productCommands(sku, s + 1)) {
            await commands.execute(productDecider, productStreamId(sku), command);
          }
        }),
      );
      const appendMs = performance.now() - appendStarted;
      const head = await events.headPosition();
      expect(head).toBeDefined();
      if (head === undefined) return;

      await waitForProgress(progress, head, 240_000);
      expect(await checker.waitFor(head, { timeoutMs: 240_000 })).toBe(true);
      const deliveredMs = performance.now() - appendStarted;
      console.info(
        `ordering: ${STREAMS * EVENTS_PER_STREAM} events appended in ${Math.round(appendMs)} ms, ` +
          `projected by both processes ${Math.round(deliveredMs)} ms after the first append`,
      );

      const log = await readWholeLog(events);
      expect(log).toHaveLength(STREAMS * EVENTS_PER_STREAM);
      const counts = await expectReadModelsToEqualFold(reads, log, PARTITIONS);
      expect(counts['product-stock']).toBe(STREAMS);

      const arrivals = await allDocuments(checkStore, collectionName(arrivalOrder));
      expect(arrivals.size).toBe(STREAMS);
      for (const [streamId, doc] of arrivals) {
        expect(doc.value, streamId).toEqual({
          revision: EVENTS_PER_STREAM - 1,
          applied: EVENTS_PER_STREAM,
          outOfOrder: 0,
        });
      }
    },
  );
});

/** A product's life: registered, then restocks, reservations and releases, seeded per stream. */
function productCommands(sku: string, seed: number): ProductCommand[] {
  const random = mulberry32(seed);
  const commands: ProductCommand[] = [
    {
      type: 'RegisterProduct',
      data: { sku, name: `Product ${sku}`, priceCents: 100, initialStock: 10_000 },
    },
  ];
  const open: string[] = [];
  for (let n = 1; commands.length < EVENTS_PER_STREAM; n++) {
    const roll = random();
    if (roll < 0.4) {
      const orderId = `order-${sku}-${n}`;
      open.push(orderId);
      commands.push({
        type: 'ReserveStock',
        data: { sku, orderId, quantity: 1 + Math.floor(random() * 3) },
      });
    } else if (roll < 0.7 && open.length > 0) {
      const orderId = open.splice(Math.floor(random() * open.length), 1)[0] as string;
      commands.push({ type: 'ReleaseStock', data: { sku, orderId } });
    } else {
      commands.push({
        type: 'RestockProduct',
        data: { sku, quantity: 1 + Math.floor(random() * 5) },
      });
    }
  }
  return commands;
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
