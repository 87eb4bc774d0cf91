import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, NotFoundError, ValidationError } from '../../src/errors.js';
import type { ReadStore, WriteOp } from '../../src/projections/read-store.js';
import { encodeCursor } from '../../src/projections/cursor.js';
import { planFind } from '../../src/projections/sqlite/query.js';
import { createSqliteReadStore } from '../../src/projections/sqlite/sqlite-read-store.js';
import { readStoreContract } from './read-store.contract.js';

const pos = (n: number): string => String(n).padStart(20, '0');
const upsert = (id: string, n: number, value: Record<string, string | number>): WriteOp => ({
  kind: 'upsert',
  id,
  position: pos(n),
  value,
});

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'streamfold-read-store-'));
}

readStoreContract('sqlite file', () => {
  const dir = tempDir();
  const store = createSqliteReadStore({ path: join(dir, 'read.db') });
  const teardown = async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return Promise.resolve({ store, teardown });
});

readStoreContract('sqlite :memory:', () => {
  const store = createSqliteReadStore({ path: ':memory:' });
  return Promise.resolve({ store, teardown: () => store.close() });
});

describe('SQLite read store', () => {
  let dir: string;
  let path: string;
  const open: ReadStore[] = [];
  const openStore = (): ReadStore => {
    const store = createSqliteReadStore({ path });
    open.push(store);
    return store;
  };

  beforeEach(() => {
    dir = tempDir();
    path = join(dir, 'nested', 'deeper', 'read.db');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((store) => store.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates missing parent directories and uses WAL', async () => {
    const store = openStore();
    await store.ensureCollection({ name: 'orders', indexes: [] });
    expect(existsSync(path)).toBe(true);
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('rejects an empty path with ConfigError', () => {
    expect(() => createSqliteReadStore({ path: '' })).toThrow(ConfigError);
  });

  it('keeps documents, collections, indexes and checkpoints across reopening the file', async () => {
    const first = openStore();
    await first.ensureCollection({ name: 'orders', indexes: [{ field: 'status' }] });
    await first.bulkWrite('orders', [upsert('o1', 1, { status: 'open' })], {
      id: 'cp',
      position: pos(1),
    });
    await first.close();

    const second = openStore();
    expect(await second.listCollections()).toEqual(['orders']);
    expect(await second.getCheckpoint('cp')).toBe(pos(1));
    const page = await second.find('orders', { where: { status: 'open' } });
    expect(page.items.map((doc) => doc.id)).toEqual(['o1']);
  });

  it('sees indexes that another instance added after this one first read the collection', async () => {
    const a = openStore();
    const b = openStore();
    await a.ensureCollection({ name: 'orders', indexes: [{ field: 'status' }] });
    await a.bulkWrite('orders', [upsert('o1', 1, { status: 'open', region: 'eu' })]);
    await b.find('orders', { where: { status: 'open' } });

    await a.ensureCollection({ name: 'orders', indexes: [{ field: 'region' }] });
    const page = await b.find('orders', { where: { region: 'eu' } });
    expect(page.items.map((doc) => doc.id)).toEqual(['o1']);
  });

  it('reports a collection dropped by another instance as NotFoundError', async () => {
    const a = openStore();
    const b = openStore();
    await a.ensureCollection({ name: 'orders', indexes: [] });
    await b.bulkWrite('orders', [upsert('o1', 1, {})]);
    await a.dropCollection('orders');
    await expect(b.get('orders', 'o1')).rejects.toThrow(NotFoundError);
    await expect(b.bulkWrite('orders', [upsert('o2', 2, {})])).rejects.toThrow(NotFoundError);
  });

  it('two connections writing one document with interleaved positions keep the highest', async () => {
    const a = openStore();
    const b = openStore();
    await a.ensureCollection({ name: 'orders', indexes: [] });
    const writes: Promise<unknown>[] = [];
    for (let n = 1; n <= 40; n++) {
      const writer = n % 3 === 0 ? a : b;
      writes.push(writer.bulkWrite('orders', [upsert('o1', 41 - n, { n: 41 - n })]));
      writes.push(writer.bulkWrite('orders', [upsert('o1', n, { n })]));
    }
    await Promise.all(writes);
    expect(await b.get('orders', 'o1')).toMatchObject({ position: pos(40), value: { n: 40 } });
  });

  it('a batch that violates a unique index rolls back entirely, ops before the failure included', async () => {
    const store = openStore();
    await store.ensureCollection({ name: 'users', indexes: [{ field: 'email', unique: true }] });
    await store.bulkWrite('users', [upsert('u1', 1, { email: 'a@x' })]);
    await expect(
      store.bulkWrite('users', [
        upsert('u2', 2, { email: 'b@x' }),
        upsert('u3', 3, { email: 'a@x' }),
      ]),
    ).rejects.toMatchObject({ details: { field: 'email', id: 'u3' } });
    expect(await store.get('users', 'u2')).toBeUndefined();
  });

  it('refuses a new unique index over duplicated values and keeps the old spec', async () => {
    const store = openStore();
    await store.ensureCollection({ name: 'users', indexes: [] });
    await store.bulkWrite('users', [
      upsert('u1', 1, { email: 'a@x' }),
      upsert('u2', 2, { email: 'a@x' }),
    ]);
    await expect(
      store.ensureCollection({ name: 'users', indexes: [{ field: 'email', unique: true }] }),
    ).rejects.toThrow(ValidationError);
    await expect(store.find('users', { where: { email: 'a@x' } })).rejects.toThrow(
      'no index on "email"',
    );
  });

  it('indexes fields whose names differ only in case separately', async () => {
    const store = openStore();
    await store.ensureCollection({
      name: 'people',
      indexes: [
        { field: 'userId', unique: true },
        { field: 'userid', unique: true },
      ],
    });
    await store.bulkWrite('people', [
      upsert('p1', 1, { userId: 'x', userid: 'y' }),
      upsert('p2', 2, { userId: 'y', userid: 'x' }),
    ]);
    const page = await store.find('people', { where: { userid: 'x' } });
    expect(page.items.map((doc) => doc.id)).toEqual(['p2']);
  });

  it('rejects index fields that are not plain identifiers', async () => {
    const store = openStore();
    for (const field of ['a.b', "x'); DROP TABLE t; --", '', 'id']) {
      await expect(
        store.ensureCollection({ name: 'orders', indexes: [{ field }] }),
      ).rejects.toThrow(ValidationError);
    }
  });

  it('gives no cursor when the last page is exactly full', async () => {
    const store = openStore();
    await store.ensureCollection({ name: 'orders', indexes: [] });
    await store.bulkWrite('orders', [upsert('o1', 1, {}), upsert('o2', 2, {})]);
    const page = await store.find('orders', { limit: 2 });
    expect(page.items).toHaveLength(2);
    expect(page.nextCursor).toBeUndefined();
  });

  it('writes a batch of 5,000 documents in one call', async () => {
    const store = openStore();
    await store.ensureCollection({ name: 'orders', indexes: [{ field: 'total' }] });
    const ops = Array.from({ length: 5_000 }, (_, i) => upsert(`o${i}`, i + 1, { total: i }));
    expect(await store.bulkWrite('orders', ops, { id: 'cp', position: pos(5_000) })).toEqual({
      applied: 5_000,
      skipped: 0,
    });
    expect(await store.bulkWrite('orders', ops)).toEqual({ applied: 0, skipped: 5_000 });
    const page = await store.find('orders', { where: { total: { gte: 4_990 } }, limit: 100 });
    expect(page.items).toHaveLength(10);
  });

  it('serves every keyset page with an index seek, never a scan from the start', async () => {
    const store = openStore();
    await store.ensureCollection({ name: 'orders', indexes: [{ field: 'total' }] });
    const db = new Database(path, { readonly: true });
    const indexes = new Map([['total', false]]);
    const after = (field: string, direction: 'asc' | 'desc', value: number | null) =>
      encodeCursor({ field, direction, value, id: 'o1' });
    const pages = [
      ['total', 'asc', after('total', 'asc', 5)],
      ['total', 'asc', after('total', 'asc', null)],
      ['total', 'desc', after('total', 'desc', 5)],
      ['total', 'desc', after('total', 'desc', null)],
      ['id', 'desc', after('id', 'desc', null)],
    ] as const;
    for (const [field, direction, cursor] of pages) {
      const plan = planFind('orders', indexes, { orderBy: { field, direction }, cursor });
      for (const segment of plan.segments) {
        const steps = db
          .prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${segment.sql}`)
          .all(...segment.params, 11)
          .map((step) => step.detail)
          .join(' | ');
        expect(steps).toMatch(/^SEARCH /);
        expect(steps).not.toContain('TEMP B-TREE');
      }
    }
    db.close();
  });
});
