/**
 * Fault tests for the NATS transport, each under a steady stream of HTTP commands, each ending
 * with every read model equal to a from-scratch fold of the log (no gap, no double effect):
 * NATS killed and restarted (the test's own nats-server), a projector process SIGKILLed and
 * restarted, the active relay SIGKILLed while a standby runs, and a lost acknowledgement.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { afterEach, describe, expect, it } from 'vitest';
import type { Projection } from '../../src/projections/projection.js';
import { checkoutProjections } from '../../src/projections/index.js';
import { collectionName, createProjector, projectorId } from '../../src/projections/projector.js';
import { createSqliteReadStore } from '../../src/projections/sqlite/sqlite-read-store.js';
import type { Delivery, EventBus } from '../../src/streams/event-bus.js';
import type { RecordedEvent } from '../../src/streams/event-store.js';
import { durableName } from '../../src/streams/nats/jetstream-setup.js';
import { createNatsBus } from '../../src/streams/nats/nats-bus.js';
import { createNatsProgress } from '../../src/streams/nats/nats-progress.js';
import { createSqliteEventStore } from '../../src/streams/sqlite/sqlite-event-store.js';
import { positionAt, streamOn } from '../contract/event-bus.contract.js';
import { startLoad, type LoadResult } from '../support/command-load.js';
import {
  allDocuments,
  expectReadModelsToEqualFold,
  readWholeLog,
  waitForProgress,
} from '../support/fold-check.js';
import { startNatsCluster, type NatsCluster } from '../support/nats-cluster.js';
import { startNatsServer } from '../support/nats-server.js';
import type { ServerProcess } from '../support/server-process.js';
import { NATS_URL, requireService } from '../support/services.js';

const ok = await requireService('NATS', NATS_URL, 'the NATS fault tests');
const PARTITIONS = 4;
const SLOW = { timeout: 240_000 };

describe.skipIf(!ok)('NATS transport under faults', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  }, 60_000);

  async function cluster(natsUrl: string, relays = 1): Promise<NatsCluster> {
    const started = await startNatsCluster({
      natsUrl,
      partitions: PARTITIONS,
      projectorPartitions: ['0,1', '2,3'],
      relays,
      workers: 0,
    });
    cleanups.push(() => started.dispose());
    return started;
  }

  it(
    'keeps accepting commands while NATS is down, and resumes after it restarts',
    SLOW,
    async () => {
      const server = await startNatsServer();
      cleanups.push(() => server.dispose());
      const c = await cluster(server.url);
      const load = startLoad(c.api.url, { prefix: 'nats-down' });
      cleanups.push(async () => void (await load.stop()));
      await load.answeredMore(100);

      await server.stop('SIGKILL');
      await load.answeredMore(150); // all of them while NATS is away
      await server.start();
      await load.answeredMore(150);
      const result = await load.stop();

      expectAllAnswered(result);
      await expectConverged(c, server.url);
      for (const child of [c.api, ...c.relays, ...c.projectors])
        expect(child.child.exitCode).toBeNull();
    },
  );

  it('recovers from a projector SIGKILLed mid-batch and restarted', SLOW, async () => {
    const c = await cluster(NATS_URL);
    const load = startLoad(c.api.url, { prefix: 'projector-kill', pauseMs: 2 });
    cleanups.push(async () => void (await load.stop()));
    await load.answeredMore(200);

    // Processes are listed in the order they finished starting; pick the one owning 0,1.
    let victim = c.projectors.find((p) => p.output().includes('"partitions":[0,1]'));
    if (victim === undefined) throw new Error('no projector process owns partitions 0,1');
    // Mid-batch: killed while JetStream counts messages handed to it and not acknowledged.
    let unacked = 0;
    for (let attempt = 1; unacked === 0; attempt++) {
      await eventually(async () => ((await ackPending(c.stream)) > 0 ? true : undefined), 30_000);
      expect((await victim.kill('SIGKILL')).signal).toBe('SIGKILL');
      unacked = await ackPending(c.stream);
      if (unacked === 0 && attempt < 5) victim = await c.startProjector('0,1');
      else if (unacked === 0)
        throw new Error('never caught the projector in the middle of a batch');
    }
    console.info(`projector SIGKILLed with ${unacked} messages handed out and not acknowledged`);
    await load.answeredMore(100);
    await c.startProjector('0,1');
    await load.answeredMore(100);

    expectAllAnswered(await load.stop());
    await expectConverged(c, NATS_URL);
  });

  it('lets the standby relay take over when the active one is SIGKILLed', SLOW, async () => {
    const c = await cluster(NATS_URL, 2);
    const active = await eventually(() => c.relays.find((r) => leases(r) === 1), 30_000);
    const standby = c.relays.find((relay) => relay !== active) as ServerProcess;
    expect(leases(standby)).toBe(0);
    const load = startLoad(c.api.url, { prefix: 'relay-kill', pauseMs: 2 });
    cleanups.push(async () => void (await load.stop()));
    await load.answeredMore(200);

    expect((await active.kill('SIGKILL')).signal).toBe('SIGKILL');
    const killedAt = performance.now();
    await eventually(() => leases(standby) === 1 || undefined, 30_000);
    const takeoverMs = performance.now() - killedAt;
    await load.answeredMore(100);

    expectAllAnswered(await load.stop());
    const log = await expectConverged(c, NATS_URL);
    // The new relay resumed from a checkpoint before the kill and republished: JetStream's
    // deduplication must have dropped every repeat.
    const published = await eventIdsOnBus(NATS_URL, c.stream, log.at(-1)?.position ?? '');
    expect(published).toHaveLength(log.length);
    expect(new Set(published)).toEqual(new Set(log.map((e) => e.id)));
    console.info(`relay takeover after SIGKILL: ${Math.round(takeoverMs)} ms (lease TTL 5000 ms)`);
  });

  it(
    'applies a batch once when it is redelivered after its acknowledgement was lost',
    SLOW,
    async () => {
      const stream = `sf-ack-${randomUUID().slice(0, 8)}`;
      const dir = mkdtempSync(join(os.tmpdir(), 'streamfold-ack-'));
      const bus = await createNatsBus({
        url: NATS_URL,
        stream,
        partitions: 2,
        pullExpiresMs: 1_000,
      });
      const store = createSqliteReadStore({ path: join(dir, 'read.db') });
      cleanups.push(async () => {
        await bus.close();
        await store.close();
        await deleteStreams(NATS_URL, [stream]);
        rmSync(dir, { recursive: true, force: true });
      });
      const seen = new Map<string, number>();
      const lossy = losingFirstAck(bus, seen);
      const projector = createProjector({ projection: tally, bus: lossy, store, maxBatch: 50 });
      await projector.start();
      cleanups.push(() => projector.stop());

      const events = counted([streamOn(0, 2), streamOn(1, 2), streamOn(0, 2, 'other')], 120);
      await bus.publish(events);
      await bus.publishWatermark(events.at(-1)?.position ?? '');
      expect(await projector.waitFor(events.at(-1)?.position ?? '', { timeoutMs: 60_000 })).toBe(
        true,
      );

      expect(Math.max(...seen.values())).toBeGreaterThan(1); // some event did come twice
      const docs = await allDocuments(store, collectionName(tally));
      const expected = new Map<string, number>();
      for (const event of events)
        expected.set(event.streamId, (expected.get(event.streamId) ?? 0) + 1);
      expect(new Map([...docs].map(([id, doc]) => [id, doc.value.count]))).toEqual(expected);
    },
  );
});

/** Messages of partitions 0 and 1 handed to a checkout projector and not acknowledged yet. */
async function ackPending(stream: string): Promise<number> {
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await nc.jetstreamManager();
    const durables = checkoutProjections.flatMap((projection) =>
      [0, 1].map((partition) => durableName(projectorId(projection), partition)),
    );
    const infos = await Promise.all(
      durables.map((durable) => jsm.consumers.info(stream, durable).catch(() => undefined)),
    );
    return infos.reduce((sum, info) => sum + (info?.num_ack_pending ?? 0), 0);
  } finally {
    await nc.close();
  }
}

/** How often a relay process has logged taking the lease. */
function leases(relay: ServerProcess): number {
  return relay.output().split('relay lease acquired').length - 1;
}

function expectAllAnswered(result: LoadResult): void {
  expect(result.failed, JSON.stringify(result)).toBe(0);
  expect(result.serverErrors, JSON.stringify(result)).toBe(0);
  expect(result.byStatus[201] ?? 0).toBeGreaterThan(0);
}

/** Waits for every projection to pass the log's head, then compares each read model with the fold. */
async function expectConverged(c: NatsCluster, natsUrl: string): Promise<RecordedEvent[]> {
  const events = createSqliteEventStore({ path: join(c.dataDir, 'events.db') });
  const reads = createSqliteReadStore({ path: join(c.dataDir, 'read.db') });
  const progress = await createNatsProgress({
    url: natsUrl,
    subject: `${c.stream}.progress`,
    partitions: PARTITIONS,
  });
  try {
    const head = await events.headPosition();
    expect(head).toBeDefined();
    await waitForProgress(progress, head ?? '', 120_000).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${diagnostics(c)}`);
    });
    const log = await readWholeLog(events);
    const counts = await expectReadModelsToEqualFold(reads, log, PARTITIONS);
    expect(counts['product-stock']).toBeGreaterThan(0);
    expect(counts['order-view']).toBeGreaterThan(0);
    return log;
  } finally {
    await progress.close();
    await reads.close();
    await events.close();
  }
}

/** The last lines of each background process, for failure messages. */
function diagnostics(c: NatsCluster): string {
  return [...c.relays, ...c.projectors]
    .map((child) => {
      const state = child.child.exitCode ?? child.child.signalCode ?? 'running';
      return `--- pid ${child.child.pid} (${state}):\n${child.output().slice(-4_000)}`;
    })
    .join('\n');
}

/** Every event message on the bus, read by a fresh consumer per partition up to `head`. */
async function eventIdsOnBus(url: string, stream: string, head: string): Promise<string[]> {
  const bus = await createNatsBus({ url, stream, partitions: PARTITIONS, pullExpiresMs: 1_000 });
  const consumer = `audit-${randomUUID().slice(0, 8)}`;
  try {
    const perPartition = await Promise.all(
      Array.from({ length: PARTITIONS }, async (_, partition) => {
        const ids: string[] = [];
        const stop = AbortSignal.timeout(60_000);
        for await (const delivery of bus.consume({ consumer, partition, signal: stop })) {
          let done = false;
          for (const message of delivery.messages) {
            if (message.kind === 'event') ids.push(message.event.id);
            else if (message.position >= head) done = true;
          }
          await delivery.ack();
          if (done) break;
        }
        return ids;
      }),
    );
    return perPartition.flat();
  } finally {
    await bus.close();
  }
}

type Tally = { count: number };
const tally: Projection<Tally> = {
  name: 'ack-tally',
  version: 1,
  handles: ['Counted'],
  indexes: [],
  documentId: (event) => event.streamId,
  evolve: (doc) => ({ count: (doc?.count ?? 0) + 1 }),
};

function counted(streams: readonly string[], total: number): RecordedEvent[] {
  const revisions = new Map<string, number>();
  return Array.from({ length: total }, (_, i) => {
    const streamId = streams[i % streams.length] as string;
    const revision = revisions.get(streamId) ?? 0;
    revisions.set(streamId, revision + 1);
    return {
      id: randomUUID(),
      type: 'Counted',
      streamId,
      revision,
      position: positionAt(i + 1),
      data: {},
      metadata: { occurredAt: '2026-01-01T00:00:00.000Z' },
    };
  });
}

/**
 * The real NATS bus, except that the first acknowledgement of each partition never reaches the
 * server, as when a process dies right after its write; counts how often each event is handed out.
 */
function losingFirstAck(inner: EventBus, seen: Map<string, number>): EventBus {
  const lost = new Set<number>();
  return {
    partitions: inner.partitions,
    durable: inner.durable,
    publish: (events) => inner.publish(events),
    publishWatermark: (at) => inner.publishWatermark(at),
    close: () => inner.close(),
    consume: (options) => ({
      async *[Symbol.asyncIterator](): AsyncGenerator<Delivery> {
        for await (const delivery of inner.consume(options)) {
          for (const m of delivery.messages) {
            if (m.kind === 'event') seen.set(m.event.id, (seen.get(m.event.id) ?? 0) + 1);
          }
          const loseThis =
            !lost.has(options.partition) && delivery.messages.some((m) => m.kind === 'event');
          if (loseThis) lost.add(options.partition);
          yield loseThis ? { messages: delivery.messages, ack: () => Promise.resolve() } : delivery;
        }
      },
    }),
  };
}

async function deleteStreams(url: string, names: readonly string[]): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await nc.jetstreamManager();
    for (const name of names) await jsm.streams.delete(name).catch(() => false);
  } finally {
    await nc.close();
  }
}

async function eventually<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
