/**
 * Rebuild by replay, end to end: under a steady stream of commands every projection is rebuilt
 * from the log while queries keep answering, and the result folds to the same documents as
 * the log does from scratch.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkoutProjections } from '../../src/projections/index.js';
import { createProjectionRegistry } from '../../src/projections/rebuild/registry.js';
import { verifyProjection } from '../../src/projections/rebuild/verify.js';
import { createSqliteReadStore } from '../../src/projections/sqlite/sqlite-read-store.js';
import { createSqliteEventStore } from '../../src/streams/sqlite/sqlite-event-store.js';
import { startEmbedded, type Embedded } from '../support/embedded.js';
import { get, post, request } from '../support/http.js';

type Job = { state: string; eventsDone: number; eventsTotal: number | null; rate: number };
type Order = { orderId: string; timeline: unknown[] };

async function waitForJob(url: string, jobId: string, timeoutMs = 60_000): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await get<Job>(url, `/v1/admin/jobs/${jobId}`);
    expect(job.status).toBe(200);
    if (!['running', 'catching-up', 'switching'].includes(job.body.state)) return job.body;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.body.state}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Verifies every projection against a fresh fold of the log, with its own store handles. */
async function verifyAll(dataDir: string) {
  const events = createSqliteEventStore({ path: path.join(dataDir, 'events.db') });
  const store = createSqliteReadStore({ path: path.join(dataDir, 'read.db') });
  try {
    const registry = createProjectionRegistry(store);
    const results = [];
    for (const projection of checkoutProjections) {
      const entry = await registry.ensure(projection);
      const collection = entry.active.collection;
      results.push(
        await verifyProjection({ events, store, projection, collection, partitions: 4 }),
      );
    }
    return results;
  } finally {
    await events.close();
    await store.close();
  }
}

describe('rebuild by replay with no downtime', () => {
  let server: Embedded;
  let last = '';

  async function place(i: number): Promise<string> {
    const orderId = `rb-${i}`;
    const response = await post<{ position: string }>(server.url, '/v1/orders', {
      orderId,
      customerId: `c-${i % 5}`,
      items: [{ sku: 'kettle', quantity: 1 }],
    });
    expect(response.status).toBe(202);
    if (response.body.position > last) last = response.body.position;
    return orderId;
  }

  beforeAll(async () => {
    server = await startEmbedded({ STREAMFOLD_REBUILD_GRACE_MS: '300' });
    const product = await post(server.url, '/v1/products', {
      sku: 'kettle',
      name: 'Kettle',
      priceCents: 2500,
      initialStock: 100_000,
    });
    expect(product.status).toBe(201);
    for (let i = 0; i < 200; i++) await place(i);
  });
  afterAll(async () => server.stop());

  it(
    'rebuilds every projection under load; queries never fail or go back; verify is clean',
    { timeout: 120_000 },
    async () => {
      let writing = true;
      let placed = 200;
      const writer = (async () => {
        while (writing && placed < 2000) await place(placed++);
      })();
      // Readers: a seen order must stay readable and its timeline must never shrink.
      const seen = new Map<string, number>();
      const failures: string[] = [];
      let reads = 0;
      const reader = (async () => {
        while (writing) {
          const orderId = `rb-${reads++ % placed}`;
          const order = await get<Order>(server.url, `/v1/orders/${orderId}`);
          const before = seen.get(orderId);
          if (order.status === 200) {
            if (before !== undefined && order.body.timeline.length < before) {
              failures.push(`${orderId} went back from ${before} to ${order.body.timeline.length}`);
            }
            seen.set(orderId, Math.max(before ?? 0, order.body.timeline.length));
          } else if (before !== undefined || order.status !== 404) {
            failures.push(`${orderId}: ${order.status} ${JSON.stringify(order.body)}`);
          }
        }
      })();

      // Let the load run a while before rebuilding, and keep it running throughout.
      while (placed < 300) await new Promise((resolve) => setTimeout(resolve, 20));
      const jobs: string[] = [];
      for (const projection of checkoutProjections) {
        const started = await post<{ jobId: string }>(
          server.url,
          `/v1/admin/projections/${projection.name}/rebuild`,
        );
        expect(started.status).toBe(202);
        jobs.push(started.body.jobId);
      }
      const again = await post(server.url, `/v1/admin/projections/order-view/rebuild`);
      expect([202, 409]).toContain(again.status);
      if (again.status === 202) jobs.push((again.body as { jobId: string }).jobId);
      const ended = await Promise.all(jobs.map((jobId) => waitForJob(server.url, jobId)));
      writing = false;
      await Promise.all([writer, reader]);

      for (const job of ended) {
        expect(job.state).toBe('completed');
        expect(job.eventsDone).toBeGreaterThan(0);
      }
      expect(failures).toEqual([]);
      expect(reads).toBeGreaterThan(0);

      const list = await get<{ items: { name: string; active: { generation: number } }[] }>(
        server.url,
        '/v1/admin/projections',
      );
      for (const item of list.body.items) expect(item.active.generation).toBeGreaterThanOrEqual(2);
      expect((await get(server.url, '/v1/admin/projections/nope/rebuild')).status).toBe(404);
      expect((await post(server.url, '/v1/admin/projections/nope/rebuild')).status).toBe(404);

      // Let the live projectors pass the last write, then compare with a fold from scratch.
      const settled = await get(server.url, `/v1/orders/rb-0`, {
        'streamfold-min-position': last,
        'streamfold-max-wait-ms': '2000',
      });
      expect(settled.status).toBe(200);
      await waitQuiet(server.url);
      for (const result of await verifyAll(server.dataDir)) {
        expect(result, result.collection).toMatchObject({
          different: [],
          missing: [],
          unexpected: [],
        });
        expect(result.actualHash).toBe(result.expectedHash);
      }
    },
  );

  it('cancels a rebuild and drops what it built', { timeout: 60_000 }, async () => {
    const started = await post<{ jobId: string }>(
      server.url,
      '/v1/admin/projections/customer-orders/rebuild',
    );
    expect(started.status).toBe(202);
    const cancelled = await request(server.url, 'DELETE', `/v1/admin/jobs/${started.body.jobId}`);
    expect(cancelled.status).toBe(202);
    const job = await waitForJob(server.url, started.body.jobId);
    // A tiny log may finish before the cancel lands; then it must have completed cleanly.
    expect(['cancelled', 'completed']).toContain(job.state);
  });
});

/** The workflow settles orders after their placement; wait until every projection has no lag. */
async function waitQuiet(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const list = await get<{ items: { lag: { events: number | null } }[] }>(
      url,
      '/v1/admin/projections',
    );
    if (list.body.items.every((p) => p.lag.events === 0)) return;
    if (Date.now() > deadline)
      throw new Error(`projections still lag: ${JSON.stringify(list.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
