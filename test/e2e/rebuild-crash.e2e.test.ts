/**
 * Rebuilds on a log large enough that the replay takes many batches: the server (a child
 * process) is SIGKILLed mid-replay and the rebuild resumes from its own checkpoint on restart;
 * a cancel lands mid-replay and drops the shadow.
 *
 * The data directory is prepared as a server that had already projected the whole log would
 * leave it (every live read model folded, every projector checkpoint at the head), so the
 * server's only heavy work is the rebuild under test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { orderIdOf, orderLifecycle, productRegistered, SKUS } from '../../bench/lib/checkout.js';
import { checkoutProjections, orderViewProjection } from '../../src/projections/index.js';
import { collectionName, projectorId } from '../../src/projections/projector.js';
import { generationCollection } from '../../src/projections/rebuild/registry.js';
import { replayInto } from '../../src/projections/rebuild/replay.js';
import { verifyProjection } from '../../src/projections/rebuild/verify.js';
import { createSqliteReadStore } from '../../src/projections/sqlite/sqlite-read-store.js';
import { createSqliteEventStore } from '../../src/streams/sqlite/sqlite-event-store.js';
import { get, post, request } from '../support/http.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';

/** 50,000 orders of four events: ten replay batches of 20,000 for the order view. */
const ORDERS = 50_000;
const PARTITIONS = 4;

type Job = {
  jobId: string;
  state: string;
  generation: number;
  eventsDone: number;
  eventsTotal: number | null;
  resumedAt: number;
};

const paths = (dataDir: string) => ({
  events: path.join(dataDir, 'events.db'),
  read: path.join(dataDir, 'read.db'),
});

/** Appends the log through the public store, many appends at once (group commit). */
async function seedLog(dataDir: string): Promise<string> {
  const events = createSqliteEventStore({ path: paths(dataDir).events });
  try {
    const at = '2026-01-01T00:00:00.000Z';
    await Promise.all(
      SKUS.map((sku) => events.append(`product-${sku}`, [productRegistered(sku, at)])),
    );
    for (let from = 0; from < ORDERS; from += 2000) {
      const appends: Promise<unknown>[] = [];
      for (let i = from; i < Math.min(ORDERS, from + 2000); i++) {
        const orderId = orderIdOf(i);
        appends.push(events.append(`order-${orderId}`, orderLifecycle(orderId, i, at, 4)));
      }
      await Promise.all(appends);
    }
    const head = await events.headPosition();
    if (head === undefined) throw new Error('the seeded log is empty');
    return head;
  } finally {
    await events.close();
  }
}

/** Folds every live read model up to the head, as a server that kept up would have. */
async function projectLog(dataDir: string, head: string): Promise<void> {
  const events = createSqliteEventStore({ path: paths(dataDir).events });
  const store = createSqliteReadStore({ path: paths(dataDir).read });
  try {
    for (const projection of checkoutProjections) {
      const collection = collectionName(projection);
      await store.ensureCollection({ name: collection, indexes: projection.indexes });
      const checkpointId = `test-seed:${projection.name}`;
      await replayInto({ events, store, projection, collection, checkpointId, partitions: 4 });
      await store.deleteCheckpoint(checkpointId);
      for (let p = 0; p < PARTITIONS; p++) {
        await store.putCheckpoint({ id: `${projectorId(projection)}:p${p}`, position: head });
      }
    }
  } finally {
    await events.close();
    await store.close();
  }
}

async function verifyOrderView(dataDir: string, collection: string) {
  const events = createSqliteEventStore({ path: paths(dataDir).events });
  const store = createSqliteReadStore({ path: paths(dataDir).read });
  try {
    const projection = orderViewProjection;
    const result = await verifyProjection({ events, store, projection, collection, partitions: 4 });
    return { result, collections: await store.listCollections() };
  } finally {
    await events.close();
    await store.close();
  }
}

/** Polls the job until `until` accepts it; fails if it ends (or times out) first. */
async function pollJob(
  server: ServerProcess,
  jobId: string,
  until: (job: Job) => boolean,
  timeoutMs = 90_000,
): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await get<Job>(server.url, `/v1/admin/jobs/${jobId}`).catch((error: unknown) => {
      throw new Error(`server unreachable:\n${server.output().slice(-4000)}`, { cause: error });
    });
    expect(job.status).toBe(200);
    if (until(job.body)) return job.body;
    if (Date.now() > deadline) throw new Error(`job ${jobId}: ${JSON.stringify(job.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const ended = (job: Job) => !['running', 'catching-up', 'switching'].includes(job.state);
/** At least one batch durable and many still to go: the replay is mid-way. */
const midReplay = (job: Job) => {
  if (job.state === 'running' && job.eventsDone >= 20_000) return true;
  if (job.state !== 'running') throw new Error(`the replay ended before the test could act`);
  return false;
};

describe('a rebuild on a large log', () => {
  let dataDir: string;
  let head: string;
  const servers: ServerProcess[] = [];
  const start = async () => {
    const server = await startServerProcess({
      STREAMFOLD_DATA_DIR: dataDir,
      STREAMFOLD_REBUILD_GRACE_MS: '200',
    });
    servers.push(server);
    return server;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'streamfold-rebuild-crash-'));
    head = await seedLog(dataDir);
    await projectLog(dataDir, head);
  }, 120_000);
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.kill('SIGKILL')));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('resumes from its checkpoint after SIGKILL mid-replay, completes, verifies clean', async () => {
    const first = await start();
    const started = await post<{ jobId: string }>(
      first.url,
      '/v1/admin/projections/order-view/rebuild',
    );
    expect(started.status).toBe(202);
    const { jobId } = started.body;
    const before = await pollJob(first, jobId, midReplay);
    expect(before.eventsTotal).toBe(Number(head));
    expect((await first.kill('SIGKILL')).signal).toBe('SIGKILL');

    // The restart takes the building generation over, under the same job id.
    const second = await start();
    const resumed = await pollJob(second, jobId, ended);
    expect(resumed.state).toBe('completed');
    expect(resumed.generation).toBe(2);
    // Resumed where the last durable batch left it, not from zero.
    expect(resumed.resumedAt).toBeGreaterThanOrEqual(before.eventsDone);
    expect(resumed.resumedAt).toBeLessThan(Number(head));
    expect(resumed.eventsDone).toBe(Number(head));
    // The job's end is logged just after its status says so.
    await expect.poll(() => second.output()).toContain(`"resumedAt":${resumed.resumedAt}`);
    await second.kill('SIGTERM');

    const collection = generationCollection(orderViewProjection, 2);
    const { result, collections } = await verifyOrderView(dataDir, collection);
    expect(result).toMatchObject({ different: [], missing: [], unexpected: [] });
    expect(result.actualHash).toBe(result.expectedHash);
    expect(result.documents).toBe(ORDERS);
    expect(collections).toContain(collection);
  });

  it('cancels mid-replay: the shadow is dropped and the active generation stays', async () => {
    const server = await start();
    const started = await post<{ jobId: string }>(
      server.url,
      '/v1/admin/projections/order-view/rebuild',
    );
    expect(started.status).toBe(202);
    const { jobId } = started.body;
    const running = await pollJob(server, jobId, midReplay);
    const cancelled = await request(server.url, 'DELETE', `/v1/admin/jobs/${jobId}`);
    expect(cancelled.status).toBe(202);
    const job = await pollJob(server, jobId, ended);
    expect(job.state).toBe('cancelled');
    expect(job.eventsDone).toBeGreaterThanOrEqual(running.eventsDone);
    expect(job.eventsDone).toBeLessThan(Number(head));
    const list = await get<{ items: { name: string; active: { generation: number } }[] }>(
      server.url,
      '/v1/admin/projections',
    );
    const orderView = list.body.items.find((item) => item.name === 'order-view');
    expect(orderView?.active.generation).toBe(2);
    await server.kill('SIGTERM');

    const { collections } = await verifyOrderView(
      dataDir,
      generationCollection(orderViewProjection, 2),
    );
    expect(collections).not.toContain(generationCollection(orderViewProjection, job.generation));
  });
});
