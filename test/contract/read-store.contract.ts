/**
 * The ReadStore contract: every adapter runs these assertions through the port alone.
 * The factory must return an empty store; teardown releases it (close may already have run).
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ClosedError,
  ErrorCodes,
  NotFoundError,
  NotIndexedError,
  ValidationError,
} from '../../src/errors.js';
import type {
  FindQuery,
  ReadStore,
  StoredDocument,
  WriteOp,
} from '../../src/projections/read-store.js';
import type { JsonObject } from '../../src/streams/event-store.js';

export type ReadStoreFactory = () => Promise<{ store: ReadStore; teardown: () => Promise<void> }>;

/** Fixed-width positions, as adapters of the event store produce them. */
const pos = (n: number): string => String(n).padStart(20, '0');

const upsert = (id: string, n: number, value: JsonObject): WriteOp => ({
  kind: 'upsert',
  id,
  position: pos(n),
  value,
});
const del = (id: string, n: number): WriteOp => ({ kind: 'delete', id, position: pos(n) });

const ORDERS = {
  name: 'orders',
  indexes: [{ field: 'status' }, { field: 'total' }, { field: 'email', unique: true }],
} as const;

/** Every page of a query, following nextCursor to the end. */
async function allPages(store: ReadStore, collection: string, query: FindQuery) {
  const pages: (readonly StoredDocument[])[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.find(collection, cursor === undefined ? query : { ...query, cursor });
    pages.push(page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined && pages.length < 100);
  return pages;
}

const ids = (items: readonly StoredDocument[]) => items.map((item) => item.id);

export function readStoreContract(name: string, factory: ReadStoreFactory): void {
  describe(`ReadStore contract: ${name}`, () => {
    let store: ReadStore;
    let teardown: () => Promise<void>;

    beforeEach(async () => {
      ({ store, teardown } = await factory());
      await store.ensureCollection(ORDERS);
    });
    afterEach(async () => {
      await teardown();
    });

    describe('collections', () => {
      it('ensureCollection is idempotent and keeps the documents', async () => {
        await store.bulkWrite('orders', [upsert('o1', 1, { status: 'open' })]);
        await store.ensureCollection(ORDERS);
        await store.ensureCollection(ORDERS);
        expect((await store.get('orders', 'o1'))?.value).toEqual({ status: 'open' });
        expect(await store.listCollections()).toEqual(['orders']);
      });

      it('ensureCollection again with more indexes makes the new fields queryable', async () => {
        await store.bulkWrite('orders', [upsert('o1', 1, { region: 'eu' })]);
        await expect(store.find('orders', { where: { region: 'eu' } })).rejects.toThrow(
          NotIndexedError,
        );
        await store.ensureCollection({ name: 'orders', indexes: [{ field: 'region' }] });
        expect(ids((await store.find('orders', { where: { region: 'eu' } })).items)).toEqual([
          'o1',
        ]);
        // The earlier indexes are still there.
        await expect(store.find('orders', { where: { status: 'open' } })).resolves.toBeDefined();
      });

      it('rejects a collection name that is not lowercase snake case', async () => {
        for (const bad of ['Orders', '1orders', 'order-view', 'a b', '']) {
          await expect(store.ensureCollection({ name: bad, indexes: [] })).rejects.toThrow(
            ValidationError,
          );
        }
      });

      it('lists collections and drops one with its documents', async () => {
        await store.ensureCollection({ name: 'products', indexes: [] });
        await store.bulkWrite('products', [upsert('p1', 1, { name: 'pen' })]);
        expect(await store.listCollections()).toEqual(['orders', 'products']);

        await store.dropCollection('products');
        expect(await store.listCollections()).toEqual(['orders']);
        await store.ensureCollection({ name: 'products', indexes: [] });
        expect(await store.get('products', 'p1')).toBeUndefined();
      });

      it('dropping a missing collection is not an error', async () => {
        await expect(store.dropCollection('never_created')).resolves.toBeUndefined();
      });

      it('reading or writing a collection never ensured rejects with NotFoundError', async () => {
        await expect(store.get('missing', 'x')).rejects.toThrow(NotFoundError);
        await expect(store.getMany('missing', ['x'])).rejects.toThrow(NotFoundError);
        await expect(store.find('missing')).rejects.toThrow(NotFoundError);
        await expect(store.bulkWrite('missing', [upsert('x', 1, {})])).rejects.toThrow(
          NotFoundError,
        );
      });

      it('a dropped collection is unknown again', async () => {
        await store.dropCollection('orders');
        await expect(store.get('orders', 'o1')).rejects.toThrow(NotFoundError);
      });
    });

    describe('documents and the position guard', () => {
      it('upserts documents and reads them back with their positions', async () => {
        const result = await store.bulkWrite('orders', [
          upsert('o1', 1, { status: 'open', total: 10 }),
          upsert('o2', 2, { status: 'paid', total: 20, lines: [{ sku: 'a', qty: 2 }] }),
        ]);
        expect(result).toEqual({ applied: 2, skipped: 0 });
        expect(await store.get('orders', 'o2')).toEqual({
          id: 'o2',
          position: pos(2),
          value: { status: 'paid', total: 20, lines: [{ sku: 'a', qty: 2 }] },
        });
        expect(await store.get('orders', 'nope')).toBeUndefined();
      });

      it('getMany returns only the documents found', async () => {
        await store.bulkWrite('orders', [upsert('o1', 1, { total: 1 }), upsert('o2', 2, {})]);
        const found = await store.getMany('orders', ['o1', 'missing', 'o2', 'o1']);
        expect([...found.keys()].sort()).toEqual(['o1', 'o2']);
        expect(found.get('o1')?.value).toEqual({ total: 1 });
        expect((await store.getMany('orders', [])).size).toBe(0);
      });

      it('skips an op whose position is equal to or older than the stored one', async () => {
        await store.bulkWrite('orders', [upsert('o1', 5, { total: 5 })]);
        const result = await store.bulkWrite('orders', [
          upsert('o1', 5, { total: 55 }),
          upsert('o1', 4, { total: 4 }),
        ]);
        expect(result).toEqual({ applied: 0, skipped: 2 });
        expect(await store.get('orders', 'o1')).toMatchObject({
          position: pos(5),
          value: { total: 5 },
        });
      });

      it('applies an op whose position is newer', async () => {
        await store.bulkWrite('orders', [upsert('o1', 5, { total: 5 })]);
        expect(await store.bulkWrite('orders', [upsert('o1', 6, { total: 6 })])).toEqual({
          applied: 1,
          skipped: 0,
        });
        expect(await store.get('orders', 'o1')).toMatchObject({
          position: pos(6),
          value: { total: 6 },
        });
      });

      it('applies several ops on one id in batch order, each one guarded', async () => {
        const result = await store.bulkWrite('orders', [
          upsert('o1', 1, { total: 1 }),
          upsert('o1', 3, { total: 3 }),
          upsert('o1', 2, { total: 2 }),
        ]);
        expect(result).toEqual({ applied: 2, skipped: 1 });
        expect((await store.get('orders', 'o1'))?.value).toEqual({ total: 3 });
      });

      it('a delete hides the document and a redelivered older upsert does not resurrect it', async () => {
        await store.bulkWrite('orders', [upsert('o1', 1, { status: 'open' })]);
        await store.bulkWrite('orders', [del('o1', 2)]);
        expect(await store.get('orders', 'o1')).toBeUndefined();
        expect((await store.getMany('orders', ['o1'])).size).toBe(0);
        expect((await store.find('orders')).items).toEqual([]);

        const redelivered = await store.bulkWrite('orders', [upsert('o1', 1, { status: 'open' })]);
        expect(redelivered).toEqual({ applied: 0, skipped: 1 });
        expect(await store.get('orders', 'o1')).toBeUndefined();
      });

      it('an upsert after the delete brings the document back', async () => {
        await store.bulkWrite('orders', [upsert('o1', 1, { total: 1 }), del('o1', 2)]);
        await store.bulkWrite('orders', [upsert('o1', 3, { total: 3 })]);
        expect(await store.get('orders', 'o1')).toMatchObject({
          position: pos(3),
          value: { total: 3 },
        });
      });

      it('a redelivered batch changes nothing and reports every op skipped', async () => {
        const batch = [upsert('o1', 1, { total: 1 }), upsert('o2', 2, { total: 2 }), del('o1', 3)];
        expect(await store.bulkWrite('orders', batch)).toEqual({ applied: 3, skipped: 0 });
        expect(await store.bulkWrite('orders', batch)).toEqual({ applied: 0, skipped: 3 });
        expect(await store.get('orders', 'o1')).toBeUndefined();
        expect(await store.get('orders', 'o2')).toMatchObject({
          position: pos(2),
          value: { total: 2 },
        });
      });

      it('concurrent writers on one document end with the highest position value', async () => {
        const writerA = [1, 4, 5].map((n) => upsert('o1', n, { total: n }));
        const writerB = [2, 3, 6].map((n) => upsert('o1', n, { total: n }));
        await Promise.all([
          ...writerA.map((op) => store.bulkWrite('orders', [op])),
          ...writerB.map((op) => store.bulkWrite('orders', [op])),
        ]);
        expect(await store.get('orders', 'o1')).toMatchObject({
          position: pos(6),
          value: { total: 6 },
        });
      });

      it('any order and duplication of upserts ends with the value of the highest position', async () => {
        // A redelivery stream: every op at least once, some again, in any order, then split
        // between two concurrent writers that each send it in batches.
        const arbitrary = fc
          .uniqueArray(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 1, maxLength: 8 })
          .chain((positions) =>
            fc.array(fc.constantFrom(...positions), { maxLength: 8 }).chain((again) => {
              const all = [...positions, ...again];
              return fc.record({
                positions: fc.constant(positions),
                deliveries: fc.shuffledSubarray(all, { minLength: all.length }),
                split: fc.nat(),
                batch: fc.integer({ min: 1, max: 4 }),
              });
            }),
          );
        let round = 0;
        await fc.assert(
          fc.asyncProperty(arbitrary, async ({ positions, deliveries, split, batch }) => {
            const id = `doc-${round++}`;
            const ops = deliveries.map((n) => upsert(id, n, { total: n }));
            const cut = split % (ops.length + 1);
            await Promise.all([
              writeInBatches(store, ops.slice(0, cut), batch),
              writeInBatches(store, ops.slice(cut), batch),
            ]);
            const max = Math.max(...positions);
            expect(await store.get('orders', id)).toEqual({
              id,
              position: pos(max),
              value: { total: max },
            });
          }),
          { numRuns: 60 },
        );
      });
    });

    describe('checkpoints', () => {
      it('stores the checkpoint with the batch', async () => {
        expect(await store.getCheckpoint('projector:orders:v1')).toBeUndefined();
        await store.bulkWrite('orders', [upsert('o1', 7, { total: 7 })], {
          id: 'projector:orders:v1',
          position: pos(7),
        });
        expect(await store.getCheckpoint('projector:orders:v1')).toBe(pos(7));
      });

      it('stores the checkpoint even when every op of the batch was skipped', async () => {
        await store.bulkWrite('orders', [upsert('o1', 7, {})]);
        await store.bulkWrite('orders', [upsert('o1', 7, {})], { id: 'cp', position: pos(8) });
        expect(await store.getCheckpoint('cp')).toBe(pos(8));
      });

      it('putCheckpoint overwrites and deleteCheckpoint removes', async () => {
        await store.putCheckpoint({ id: 'relay', position: pos(3) });
        await store.putCheckpoint({ id: 'relay', position: pos(9) });
        await store.putCheckpoint({ id: 'other', position: pos(1) });
        expect(await store.getCheckpoint('relay')).toBe(pos(9));

        await store.deleteCheckpoint('relay');
        await store.deleteCheckpoint('never-stored');
        expect(await store.getCheckpoint('relay')).toBeUndefined();
        expect(await store.getCheckpoint('other')).toBe(pos(1));
      });
    });

    describe('find', () => {
      beforeEach(async () => {
        await store.bulkWrite('orders', [
          upsert('o1', 1, { status: 'open', total: 30, email: 'a@x' }),
          upsert('o2', 2, { status: 'paid', total: 10, email: 'b@x' }),
          upsert('o3', 3, { status: 'open', total: 20, email: 'c@x' }),
          upsert('o4', 4, { status: 'open', total: 20, email: 'd@x' }),
          upsert('o5', 5, { status: 'shipped', total: 50 }),
        ]);
      });

      it('orders by id ascending by default', async () => {
        const page = await store.find('orders');
        expect(ids(page.items)).toEqual(['o1', 'o2', 'o3', 'o4', 'o5']);
        expect(page.items[0]).toEqual({
          id: 'o1',
          position: pos(1),
          value: { status: 'open', total: 30, email: 'a@x' },
        });
        expect(page.nextCursor).toBeUndefined();
      });

      it('filters by equality, as a bare value or eq', async () => {
        expect(ids((await store.find('orders', { where: { status: 'open' } })).items)).toEqual([
          'o1',
          'o3',
          'o4',
        ]);
        expect(ids((await store.find('orders', { where: { total: { eq: 20 } } })).items)).toEqual([
          'o3',
          'o4',
        ]);
        expect(ids((await store.find('orders', { where: { id: 'o2' } })).items)).toEqual(['o2']);
      });

      it('filters by range', async () => {
        const find = async (where: NonNullable<FindQuery['where']>) =>
          ids((await store.find('orders', { where })).items);
        expect(await find({ total: { gt: 20 } })).toEqual(['o1', 'o5']);
        expect(await find({ total: { gte: 20 } })).toEqual(['o1', 'o3', 'o4', 'o5']);
        expect(await find({ total: { lt: 20 } })).toEqual(['o2']);
        expect(await find({ total: { gte: 10, lte: 20 } })).toEqual(['o2', 'o3', 'o4']);
        expect(await find({ id: { gt: 'o3' } })).toEqual(['o4', 'o5']);
      });

      it('a numeric range does not match string values, nor a string range numbers', async () => {
        await store.bulkWrite('orders', [upsert('s1', 9, { total: 'thirty' })]);
        expect(ids((await store.find('orders', { where: { total: { gt: 40 } } })).items)).toEqual([
          'o5',
        ]);
        expect(
          ids((await store.find('orders', { where: { total: { lt: 'zzz' } } })).items),
        ).toEqual(['s1']);
      });

      it('combines conditions on several fields with AND', async () => {
        const page = await store.find('orders', {
          where: { status: 'open', total: { lt: 25 } },
        });
        expect(ids(page.items)).toEqual(['o3', 'o4']);
      });

      it('matches booleans', async () => {
        await store.ensureCollection({ name: 'flags', indexes: [{ field: 'active' }] });
        await store.bulkWrite('flags', [
          upsert('f1', 1, { active: true }),
          upsert('f2', 2, { active: false }),
        ]);
        expect(ids((await store.find('flags', { where: { active: true } })).items)).toEqual(['f1']);
        expect(ids((await store.find('flags', { where: { active: false } })).items)).toEqual([
          'f2',
        ]);
      });

      it('sorts ascending and descending, breaking ties by id in the same direction', async () => {
        const asc = await store.find('orders', { orderBy: { field: 'total' } });
        expect(ids(asc.items)).toEqual(['o2', 'o3', 'o4', 'o1', 'o5']);
        const desc = await store.find('orders', { orderBy: { field: 'total', direction: 'desc' } });
        expect(ids(desc.items)).toEqual(['o5', 'o1', 'o4', 'o3', 'o2']);
        const byId = await store.find('orders', { orderBy: { field: 'id', direction: 'desc' } });
        expect(ids(byId.items)).toEqual(['o5', 'o4', 'o3', 'o2', 'o1']);
      });

      it('sorts documents missing the sort field first ascending and last descending', async () => {
        const asc = await store.find('orders', { orderBy: { field: 'email' } });
        expect(ids(asc.items)).toEqual(['o5', 'o1', 'o2', 'o3', 'o4']);
        const desc = await store.find('orders', { orderBy: { field: 'email', direction: 'desc' } });
        expect(ids(desc.items)).toEqual(['o4', 'o3', 'o2', 'o1', 'o5']);
      });

      it('filters and sorts on different fields together', async () => {
        const page = await store.find('orders', {
          where: { status: 'open' },
          orderBy: { field: 'total', direction: 'desc' },
        });
        expect(ids(page.items)).toEqual(['o1', 'o4', 'o3']);
      });

      it('rejects a condition or sort on a field that is not indexed with NotIndexedError', async () => {
        await expect(store.find('orders', { where: { customer: 'c1' } })).rejects.toThrow(
          NotIndexedError,
        );
        await expect(
          store.find('orders', { orderBy: { field: 'customer' } }),
        ).rejects.toMatchObject({ code: ErrorCodes.NOT_INDEXED });
      });

      it('rejects a malformed cursor with ValidationError', async () => {
        for (const cursor of [
          'not a cursor!',
          'AAAA',
          Buffer.from('{"x":1}').toString('base64url'),
          '',
        ]) {
          await expect(store.find('orders', { cursor })).rejects.toThrow(ValidationError);
        }
      });

      it('rejects a cursor from a query with a different sort', async () => {
        const first = await store.find('orders', { orderBy: { field: 'total' }, limit: 2 });
        expect(first.nextCursor).toBeDefined();
        const cursor = first.nextCursor ?? '';
        await expect(
          store.find('orders', { orderBy: { field: 'total', direction: 'desc' }, cursor }),
        ).rejects.toThrow(ValidationError);
      });

      it('rejects a limit outside 1 to 1000 and malformed conditions with ValidationError', async () => {
        for (const limit of [0, -1, 1.5, 1001]) {
          await expect(store.find('orders', { limit })).rejects.toThrow(ValidationError);
        }
        await expect(store.find('orders', { limit: 1000 })).resolves.toBeDefined();
        // Shapes the types forbid but untyped callers (HTTP query strings) can still send.
        const bad = [{ total: {} }, { total: { between: 1 } }, { total: { gt: 1, lt: 'z' } }];
        for (const where of bad as NonNullable<FindQuery['where']>[]) {
          await expect(store.find('orders', { where })).rejects.toThrow(ValidationError);
        }
      });
    });

    describe('pagination', () => {
      const docs = 25;
      beforeEach(async () => {
        // Five documents share each total and seven lack it, so pages cut through ties and
        // through the documents without a sort value.
        const ops = Array.from({ length: docs }, (_, i) => {
          const id = `d${String((i * 7) % docs).padStart(2, '0')}`;
          return upsert(id, i + 1, i < 18 ? { status: 'open', total: i % 4 } : { status: 'open' });
        });
        await store.bulkWrite('orders', ops);
        await store.bulkWrite('orders', [del('d03', 100)]);
        await store.bulkWrite('orders', [upsert('d03', 101, { status: 'open', total: 1 })]);
      });

      const queries: [string, FindQuery][] = [
        ['by id', {}],
        ['by id descending', { orderBy: { field: 'id', direction: 'desc' } }],
        ['by a field with ties', { orderBy: { field: 'total' } }],
        ['by a field with ties, descending', { orderBy: { field: 'total', direction: 'desc' } }],
        ['with a filter', { where: { status: 'open' }, orderBy: { field: 'total' } }],
      ];

      for (const [label, query] of queries) {
        it(`pages ${label} in 10, 10 and 5 with no repeats or gaps`, async () => {
          const everything = await store.find('orders', { ...query, limit: 1000 });
          expect(everything.items).toHaveLength(docs);
          expect(everything.nextCursor).toBeUndefined();

          const pages = await allPages(store, 'orders', { ...query, limit: 10 });
          expect(pages.map((page) => page.length)).toEqual([10, 10, 5]);
          expect(pages.flatMap(ids)).toEqual(ids(everything.items));
        });
      }

      it('pages a collection that divides evenly into pages without losing documents', async () => {
        const pages = await allPages(store, 'orders', { limit: 5 });
        expect(pages.flat()).toHaveLength(docs);
        expect(pages.slice(0, 5).map((page) => page.length)).toEqual([5, 5, 5, 5, 5]);
        expect(pages.slice(5).every((page) => page.length === 0)).toBe(true);
      });

      it('a filtered range query pages through only the matching documents', async () => {
        const pages = await allPages(store, 'orders', {
          where: { total: { gte: 1, lte: 2 } },
          orderBy: { field: 'total', direction: 'desc' },
          limit: 3,
        });
        const items = pages.flat();
        expect(items.every((d) => d.value['total'] === 1 || d.value['total'] === 2)).toBe(true);
        expect(new Set(ids(items)).size).toBe(items.length);
        const totals = items.map((d) => Number(d.value['total']));
        expect(totals).toEqual([...totals].sort((a, b) => b - a));
        expect(items).toHaveLength(10);
      });
      it('pages random documents in any page size without skipping or repeating', async () => {
        let round = 0;
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }), {
              maxLength: 30,
            }),
            fc.integer({ min: 1, max: 7 }),
            fc.constantFrom('asc' as const, 'desc' as const),
            async (totals, limit, direction) => {
              const collection = `pages_${round++}`;
              await store.ensureCollection({ name: collection, indexes: [{ field: 'total' }] });
              const docs = totals.map((total, i) => ({ id: `d${i}`, total }));
              await store.bulkWrite(
                collection,
                docs.map((d, i) =>
                  upsert(d.id, i + 1, d.total === undefined ? {} : { total: d.total }),
                ),
              );
              const pages = await allPages(store, collection, {
                orderBy: { field: 'total', direction },
                limit,
              });
              // Missing values sort first ascending; ties go by id in the sort's direction.
              const sign = direction === 'asc' ? 1 : -1;
              const expected = [...docs].sort(
                (a, b) => sign * ((a.total ?? -1) - (b.total ?? -1) || (a.id < b.id ? -1 : 1)),
              );
              expect(pages.flatMap(ids)).toEqual(expected.map((d) => d.id));
              expect(pages.slice(0, -1).every((page) => page.length === limit)).toBe(true);
              await store.dropCollection(collection);
            },
          ),
          { numRuns: 50 },
        );
      });
    });

    describe('unique indexes', () => {
      it('rejects a batch that would duplicate a unique value, changing nothing', async () => {
        await store.bulkWrite('orders', [upsert('o1', 1, { email: 'a@x' })], {
          id: 'cp',
          position: pos(1),
        });
        const failed = store.bulkWrite('orders', [upsert('o2', 2, { email: 'a@x' })], {
          id: 'cp',
          position: pos(2),
        });
        await expect(failed).rejects.toThrow(ValidationError);
        await expect(failed).rejects.toMatchObject({
          code: ErrorCodes.VALIDATION,
          details: { collection: 'orders', field: 'email' },
        });
        expect(await store.get('orders', 'o2')).toBeUndefined();
        expect(await store.getCheckpoint('cp')).toBe(pos(1));
      });

      it('a value freed by an update or a delete can be taken by another document', async () => {
        await store.bulkWrite('orders', [
          upsert('o1', 1, { email: 'a@x' }),
          upsert('o2', 2, { email: 'b@x' }),
        ]);
        await store.bulkWrite('orders', [
          upsert('o1', 3, { email: 'z@x' }),
          upsert('o3', 4, { email: 'a@x' }),
          del('o2', 5),
          upsert('o4', 6, { email: 'b@x' }),
        ]);
        expect(ids((await store.find('orders', { where: { email: 'a@x' } })).items)).toEqual([
          'o3',
        ]);
        expect(ids((await store.find('orders', { where: { email: 'b@x' } })).items)).toEqual([
          'o4',
        ]);
      });

      it('documents without the unique field do not collide', async () => {
        const result = await store.bulkWrite('orders', [upsert('o1', 1, {}), upsert('o2', 2, {})]);
        expect(result.applied).toBe(2);
      });
    });

    describe('close', () => {
      it('rejects every call after close with ClosedError', async () => {
        await store.close();
        await expect(store.get('orders', 'o1')).rejects.toThrow(ClosedError);
        await expect(store.find('orders')).rejects.toThrow(ClosedError);
        await expect(store.bulkWrite('orders', [])).rejects.toThrow(ClosedError);
        await expect(store.getCheckpoint('cp')).rejects.toThrow(ClosedError);
        await expect(store.ensureCollection(ORDERS)).rejects.toThrow(ClosedError);
        await expect(store.listCollections()).rejects.toThrow(ClosedError);
      });
    });
  });
}

async function writeInBatches(store: ReadStore, ops: readonly WriteOp[], size: number) {
  for (let i = 0; i < ops.length; i += size) {
    await store.bulkWrite('orders', ops.slice(i, i + size));
  }
}
