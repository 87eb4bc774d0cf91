import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Projection } from '../../src/projections/projection.js';
import { createProjector, type Projector } from '../../src/projections/projector.js';
import { createRebuildManager } from '../../src/projections/rebuild/rebuild-manager.js';
import { estimateTotal, figures } from '../../src/projections/rebuild/progress.js';
import {
  createProjectionRegistry,
  generationCollection,
  RegistryConflictError,
} from '../../src/projections/rebuild/registry.js';
import { replayInto } from '../../src/projections/rebuild/replay.js';
import { verifyProjection } from '../../src/projections/rebuild/verify.js';
import type { ReadStore } from '../../src/projections/read-store.js';
import { createSqliteReadStore } from '../../src/projections/sqlite/sqlite-read-store.js';
import type { EventStore } from '../../src/streams/event-store.js';
import { createInProcessBus } from '../../src/streams/memory/in-process-bus.js';
import { startProjectorRole } from '../../src/roles/projector.role.js';
import { createSqliteEventStore } from '../../src/streams/sqlite/sqlite-event-store.js';

type Tally = { count: number };
const tally: Projection<Tally> = {
  name: 'tally',
  version: 1,
  handles: ['Counted'],
  indexes: [],
  documentId: (event) => event.streamId,
  evolve: (doc) => ({ count: (doc?.count ?? 0) + 1 }),
};

describe('rebuild building blocks', () => {
  let dir: string;
  let events: EventStore;
  let store: ReadStore;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'streamfold-rebuild-'));
    events = createSqliteEventStore({ path: path.join(dir, 'events.db') });
    store = createSqliteReadStore({ path: path.join(dir, 'read.db') });
    for (let i = 0; i < 250; i++) {
      const meta = { occurredAt: '2026-01-01T00:00:00.000Z' };
      await events.append(`s-${i % 7}`, [
        { id: randomUUID(), type: 'Counted', data: {}, metadata: meta },
      ]);
      await events.append(`x-${i}`, [
        { id: randomUUID(), type: 'Other', data: {}, metadata: meta },
      ]);
    }
  });
  afterEach(async () => {
    await events.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registry: generation 1 keeps the old name, and a stale update is a conflict', async () => {
    const registry = createProjectionRegistry(store);
    const entry = await registry.ensure(tally);
    expect(entry.active).toEqual({ collection: 'tally_v1', generation: 1, codeVersion: 1 });
    expect(generationCollection(tally, 2)).toBe('tally_v1_g2');
    const next = await registry.update(entry, { active: entry.active, retired: [] });
    expect(next.revision).toBe(2);
    await expect(registry.update(entry, { active: entry.active, retired: [] })).rejects.toThrow(
      RegistryConflictError,
    );
    expect(await registry.ensure(tally)).toEqual(next);
  });

  it('replay folds the log in batches and resumes from its checkpoint, not from zero', async () => {
    const collection = 'tally_v1_g2';
    await store.ensureCollection({ name: collection, indexes: [] });
    const base = {
      events,
      store,
      projection: tally,
      collection,
      checkpointId: 'rebuild:tally:g2',
      partitions: 4,
    };
    const stop = new AbortController();
    const first = await replayInto({
      ...base,
      pageSize: 50,
      batchEvents: 100,
      signal: stop.signal,
      onBatch: () => stop.abort(),
    });
    expect(first.events).toBe(100);
    const rest = await replayInto({ ...base, pageSize: 50, batchEvents: 100 });
    expect(rest.events).toBe(400);
    const result = await verifyProjection({
      events,
      store,
      projection: tally,
      collection,
      partitions: 4,
    });
    expect(result).toMatchObject({ documents: 7, different: [], missing: [], unexpected: [] });
    expect((await store.get(collection, 's-0'))?.value).toEqual({ count: 36 });
  });

  it('replay overlapping slow writes folds each batch onto the one before, in order', async () => {
    const collection = 'tally_v1_g2';
    await store.ensureCollection({ name: collection, indexes: [] });
    // Bulk writes that land a while after the call, as a remote store's do: the next batch is
    // read and folded meanwhile, while the collection still lacks the batch being written.
    const slow = new Proxy(store, {
      get(target, key) {
        if (key === 'bulkWrite') {
          return async (...args: Parameters<ReadStore['bulkWrite']>) => {
            await new Promise((resolve) => setTimeout(resolve, 20));
            return target.bulkWrite(...args);
          };
        }
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
    const batches: string[] = [];
    const result = await replayInto({
      events,
      store: slow,
      projection: tally,
      collection,
      checkpointId: 'rebuild:tally:g2',
      partitions: 4,
      pageSize: 30,
      batchEvents: 60,
      onBatch: ({ position }) => batches.push(position),
    });
    expect(result.events).toBe(500);
    expect(batches).toEqual([...batches].sort());
    expect(result.position).toBe(batches.at(-1));
    expect(await store.getCheckpoint('rebuild:tally:g2')).toBe(result.position);
    const verified = await verifyProjection({
      events,
      store,
      projection: tally,
      collection,
      partitions: 4,
    });
    expect(verified).toMatchObject({ documents: 7, different: [], missing: [], unexpected: [] });
    expect((await store.get(collection, 's-0'))?.value).toEqual({ count: 36 });
  });

  it('verify names the documents that differ', async () => {
    const collection = 'tally_v1';
    await store.ensureCollection({ name: collection, indexes: [] });
    await replayInto({
      events,
      store,
      projection: tally,
      collection,
      checkpointId: 'c',
      partitions: 4,
    });
    await store.bulkWrite(collection, [
      { kind: 'upsert', id: 's-1', position: '9'.repeat(20), value: { count: 0 } },
    ]);
    const result = await verifyProjection({
      events,
      store,
      projection: tally,
      collection,
      partitions: 4,
    });
    expect(result.different).toEqual(['s-1']);
    expect(result.actualHash).not.toBe(result.expectedHash);
  });

  it('a new code version is rebuilt at start-up, switched to, and the old one dropped', async () => {
    // What version 1 left behind: its registry entry and its folded collection.
    const registry = createProjectionRegistry(store);
    await registry.ensure(tally);
    await store.ensureCollection({ name: 'tally_v1', indexes: [] });
    await replayInto({
      events,
      store,
      projection: tally,
      collection: 'tally_v1',
      checkpointId: 'v1',
      partitions: 4,
    });
    // Version 2 folds differently, so the test can tell which version a document came from.
    const tallyV2: Projection<Tally & { v: number }> = {
      ...tally,
      version: 2,
      evolve: (doc) => ({ count: (doc?.count ?? 0) + 1, v: 2 }),
    };
    const bus = createInProcessBus({ partitions: 4 });
    const projectors = new Map<string, Projector>();
    const quiet = { info: () => undefined, error: () => undefined };
    const manager = createRebuildManager({
      events,
      store,
      registry,
      projections: [tallyV2],
      partitions: 4,
      projectors,
      createProjector: (projection, collection) =>
        createProjector({ projection, bus, store, collection }),
      graceMs: 50,
      logger: quiet,
    });
    try {
      // Nothing goes live for version 2 until its first generation is built.
      expect(await manager.prepare()).toEqual(new Map());
      await manager.resume();
      const building = (await registry.get('tally'))?.building;
      expect(building).toMatchObject({ collection: 'tally_v2_g2', generation: 2, codeVersion: 2 });
      const job = manager.job(building?.jobId ?? '');
      await waitUntil(() => job?.status().state === 'completed');
      expect(job?.status()).toMatchObject({ eventsDone: 500, eventsTotal: 500, resumedAt: 0 });

      const entry = await registry.get('tally');
      expect(entry?.active).toEqual({ collection: 'tally_v2_g2', generation: 2, codeVersion: 2 });
      expect(entry?.building).toBeUndefined();
      expect(projectors.get('tally')?.collection).toBe('tally_v2_g2');
      expect((await store.get('tally_v2_g2', 's-0'))?.value).toEqual({ count: 36, v: 2 });
      // The replaced generation stays for its grace period, then goes, and so does its entry.
      await waitUntil(async () => !(await store.listCollections()).includes('tally_v1'));
      await waitUntil(async () => (await registry.get('tally'))?.retired.length === 0);
    } finally {
      await manager.stop();
      await Promise.all([...projectors.values()].map((projector) => projector.stop()));
      await bus.close();
    }
  });

  it('a projector process writes the active generation and follows a switch', async () => {
    const registry = createProjectionRegistry(store);
    const entry = await registry.ensure(tally);
    const switched = await registry.update(entry, {
      active: { collection: 'tally_v1_g2', generation: 2, codeVersion: 1 },
      retired: [],
    });
    const bus = createInProcessBus({ partitions: 4 });
    const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
    const role = await startProjectorRole({
      projections: [tally],
      bus,
      store,
      logger: { ...quiet, child: () => quiet },
      registryPollMs: 20,
    });
    try {
      expect(role.projectors.get('tally')?.collection).toBe('tally_v1_g2');
      // A rebuild in another process switches to generation 3: the projector follows.
      await registry.update(switched, {
        active: { collection: 'tally_v1_g3', generation: 3, codeVersion: 1 },
        retired: [],
      });
      await waitUntil(() => role.projectors.get('tally')?.collection === 'tally_v1_g3');
    } finally {
      await role.stop();
      await bus.close();
    }
  });

  it('progress: exact totals for sequences, extrapolated for byte offsets', () => {
    expect(estimateTotal(40, '00000000000000000040', '00000000000000000100')).toBe(100);
    expect(
      estimateTotal(10, `${'1000'.padStart(20, '0')}-0`, `${'4000'.padStart(20, '0')}-0`),
    ).toBe(40);
    expect(figures(50, 100, 50, 1000)).toEqual({
      eventsDone: 50,
      eventsTotal: 100,
      rate: 50,
      etaSeconds: 1,
    });
  });
});

/** Polls, for an outcome that takes an unknown but bounded time on a loaded machine. */
async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
