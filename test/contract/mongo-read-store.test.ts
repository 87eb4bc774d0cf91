/**
 * The MongoDB read store through the official driver: against the wire-protocol stand-in
 * always, and against a real server too when STREAMFOLD_TEST_MONGO_URL is set.
 */
import { MongoClient, type Document } from 'mongodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, ErrorCodes, NotFoundError, NotIndexedError } from '../../src/errors.js';
import {
  createMongoReadStore,
  type MongoReadStoreOptions,
} from '../../src/projections/mongo/mongo-read-store.js';
import { resolveOptions } from '../../src/projections/mongo/options.js';
import type { ReadStore, WriteOp } from '../../src/projections/read-store.js';
import type { JsonObject } from '../../src/streams/event-store.js';
import { freePort } from '../support/free-port.js';
import { startMongoStandin, type MongoStandin } from '../support/mongo-standin/server.js';
import { MONGO_URL, requireService } from '../support/services.js';
import { readStoreContract, type ReadStoreFactory } from './read-store.contract.js';

const RUN = `sf_${process.pid.toString(36)}_${Date.now().toString(36)}`;
let databases = 0;

/** A fresh database per store; teardown closes the store and drops its database. */
function factoryFor(url: () => string): ReadStoreFactory {
  return async () => {
    const database = `${RUN}_${databases++}`;
    const store = createMongoReadStore({ url: url(), database });
    const teardown = async () => {
      await store.close();
      const admin = new MongoClient(url(), { serverSelectionTimeoutMS: 5_000 });
      try {
        await admin.db(database).dropDatabase();
      } finally {
        await admin.close();
      }
    };
    return Promise.resolve({ store, teardown });
  };
}

describe('MongoDB read store on the wire-protocol stand-in', () => {
  let standin: MongoStandin;
  beforeAll(async () => {
    standin = await startMongoStandin();
  });
  afterAll(async () => standin.stop());

  const url = () => standin.url;
  readStoreContract('mongodb (stand-in)', factoryFor(url));
  mongoReadStoreBehaviour('mongodb (stand-in)', url);

  it('applies an upsert that lost the insert race to an older position', async () => {
    // A wide window between an upsert's query and its insert makes every pair collide.
    const racy = await startMongoStandin({ upsertRaceWindowMs: 20 });
    const database = `${RUN}_${databases++}`;
    const a = createMongoReadStore({ url: racy.url, database });
    const b = createMongoReadStore({ url: racy.url, database });
    try {
      await a.ensureCollection({ name: 'orders', indexes: [] });
      await b.listCollections();
      for (let i = 0; i < 5; i++) {
        const [older, newer] = await Promise.all([
          a.bulkWrite('orders', [upsert(`d${i}`, 1, { n: 1 })]),
          b.bulkWrite('orders', [upsert(`d${i}`, 2, { n: 2 })]),
        ]);
        expect(await a.get('orders', `d${i}`)).toMatchObject({ position: pos(2), value: { n: 2 } });
        expect(newer).toEqual({ applied: 1, skipped: 0 });
        expect((older?.applied ?? 0) + (older?.skipped ?? 0)).toBe(1);
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
      await racy.stop();
    }
  });

  it('refuses a query on a field without an index before anything reaches the server', async () => {
    const database = `${RUN}_${databases++}`;
    const store = createMongoReadStore({ url: standin.url, database });
    try {
      await store.ensureCollection({ name: 'orders', indexes: [{ field: 'status' }] });
      await store.bulkWrite('orders', [upsert('o1', 1, { status: 'open', customer: 'c1' })]);
      await store.find('orders', { where: { status: 'open' } });
      const before = standin.seen().at(-1)?.seq ?? 0;
      await expect(store.find('orders', { where: { customer: 'c1' } })).rejects.toThrow(
        NotIndexedError,
      );
      await expect(store.find('orders', { orderBy: { field: 'customer' } })).rejects.toThrow(
        NotIndexedError,
      );
      // The declarations were read again (another process may have added the field), but no
      // query on the read model, which would have had to scan it, reached the server.
      const sent = standin.seen().filter((command) => command.seq > before);
      expect(sent.length).toBeGreaterThan(0);
      expect(sent.filter((command) => command.target === 'orders')).toEqual([]);
    } finally {
      await store.close();
    }
  });
});

// A real server is opt-in: without the variable there is nothing to run, hence nothing to skip.
if (MONGO_URL !== undefined) {
  const realUrl = MONGO_URL;
  const ok = await requireService('MongoDB', realUrl, 'the MongoDB read-store contract');
  describe.skipIf(!ok)('MongoDB read store on a real server', () => {
    readStoreContract(
      'mongodb (real server)',
      factoryFor(() => realUrl),
    );
    mongoReadStoreBehaviour('mongodb (real server)', () => realUrl);
  });
}

const pos = (n: number): string => String(n).padStart(20, '0');
const upsert = (id: string, n: number, value: JsonObject): WriteOp => ({
  kind: 'upsert',
  id,
  position: pos(n),
  value,
});

/**
 * What the port's contract cannot see: several processes on one database, the indexes that
 * serve the queries, and the guard when inserts race.
 */
function mongoReadStoreBehaviour(label: string, url: () => string): void {
  describe(`MongoDB read store specifics: ${label}`, () => {
    let database: string;
    const open: ReadStore[] = [];
    const openStore = (options: Partial<MongoReadStoreOptions> = {}): ReadStore => {
      const store = createMongoReadStore({ url: url(), database, ...options });
      open.push(store);
      return store;
    };
    let admin: MongoClient;

    beforeEach(() => {
      database = `${RUN}_${databases++}`;
      admin = new MongoClient(url(), { serverSelectionTimeoutMS: 5_000 });
    });
    afterEach(async () => {
      await Promise.all(open.splice(0).map((store) => store.close()));
      await admin.db(database).dropDatabase();
      await admin.close();
    });

    it('creates every declared field as a real index, unique ones partial', async () => {
      await openStore().ensureCollection({
        name: 'orders',
        indexes: [{ field: 'status' }, { field: 'email', unique: true }],
      });
      const indexes = await admin.db(database).collection('orders').listIndexes().toArray();
      const byName = new Map(indexes.map((index: Document) => [String(index.name), index]));
      expect(byName.get('ix_status')?.key).toEqual({ 'doc.status': 1, _id: 1 });
      expect(byName.get('ix_email')?.key).toEqual({ 'doc.email': 1, _id: 1 });
      expect(byName.get('ux_email')).toMatchObject({
        key: { 'doc.email': 1 },
        unique: true,
        partialFilterExpression: { 'doc.email': { $type: expect.any(Array) as unknown } },
      });
    });

    it('keeps the highest position when two processes race on new documents', async () => {
      const a = openStore();
      const b = openStore();
      await a.ensureCollection({ name: 'orders', indexes: [] });
      // Each document is created by both at once: one insert loses the race with E11000
      // even when its position is the newer one, and must still apply.
      const rounds = Array.from({ length: 40 }, (_, i) => i);
      const results = await Promise.all(
        rounds.flatMap((i) => [
          a.bulkWrite('orders', [upsert(`d${i}`, i % 2 === 0 ? 2 : 1, { by: 'a' })]),
          b.bulkWrite('orders', [upsert(`d${i}`, i % 2 === 0 ? 1 : 2, { by: 'b' })]),
        ]),
      );
      const found = await a.getMany(
        'orders',
        rounds.map((i) => `d${i}`),
      );
      for (const i of rounds) {
        expect(found.get(`d${i}`)).toMatchObject({
          position: pos(2),
          value: { by: i % 2 === 0 ? 'a' : 'b' },
        });
      }
      const applied = results.reduce((sum, result) => sum + result.applied, 0);
      const skipped = results.reduce((sum, result) => sum + result.skipped, 0);
      // Position 2 always applies; position 1 applies only when it came first.
      expect(applied).toBeGreaterThanOrEqual(40);
      expect(applied + skipped).toBe(80);
    });

    it('applies a batch redelivered to two processes at once exactly once', async () => {
      const a = openStore();
      const b = openStore();
      await a.ensureCollection({ name: 'orders', indexes: [{ field: 'total' }] });
      const batch = Array.from({ length: 200 }, (_, i) =>
        upsert(`o${i % 50}`, i + 1, { total: i }),
      );
      const [first, second] = await Promise.all([
        a.bulkWrite('orders', batch, { id: 'cp', position: pos(200) }),
        b.bulkWrite('orders', batch, { id: 'cp', position: pos(200) }),
      ]);
      const again = await a.bulkWrite('orders', batch);
      expect(again).toEqual({ applied: 0, skipped: 200 });
      expect((first?.applied ?? 0) + (second?.applied ?? 0)).toBeGreaterThanOrEqual(50);
      const page = await b.find('orders', { orderBy: { field: 'total', direction: 'desc' } });
      expect(page.items.map((item) => item.value['total'])).toEqual(
        Array.from({ length: 50 }, (_, i) => 199 - i),
      );
      expect(await b.getCheckpoint('cp')).toBe(pos(200));
    });

    it('a crash between documents and checkpoint only causes harmless reapplication', async () => {
      const store = openStore();
      await store.ensureCollection({ name: 'orders', indexes: [] });
      const batch = [upsert('o1', 1, { n: 1 }), upsert('o2', 2, { n: 2 })];
      // The documents landed, the process died before the checkpoint: the batch comes again.
      await store.bulkWrite('orders', batch);
      expect(await store.getCheckpoint('cp')).toBeUndefined();
      expect(await store.bulkWrite('orders', batch, { id: 'cp', position: pos(2) })).toEqual({
        applied: 0,
        skipped: 2,
      });
      expect(await store.getCheckpoint('cp')).toBe(pos(2));
      expect((await store.get('orders', 'o2'))?.value).toEqual({ n: 2 });
    });

    it('shares collections and declared indexes between processes', async () => {
      const a = openStore();
      const b = openStore();
      await a.ensureCollection({ name: 'orders', indexes: [{ field: 'status' }] });
      await a.bulkWrite('orders', [upsert('o1', 1, { status: 'open', region: 'eu' })]);
      expect(await b.listCollections()).toEqual(['orders']);
      await b.find('orders', { where: { status: 'open' } });
      await a.ensureCollection({ name: 'orders', indexes: [{ field: 'region', unique: true }] });
      const page = await b.find('orders', { where: { region: 'eu' } });
      expect(page.items.map((doc) => doc.id)).toEqual(['o1']);
    });

    it('does not recreate a collection another process dropped', async () => {
      const a = openStore();
      const b = openStore();
      await a.ensureCollection({ name: 'orders', indexes: [] });
      await b.bulkWrite('orders', [upsert('o1', 1, {})]);
      await a.dropCollection('orders');
      await expect(b.bulkWrite('orders', [upsert('o2', 2, {})])).rejects.toThrow(NotFoundError);
      const names = await admin.db(database).listCollections({}, { nameOnly: true }).toArray();
      expect(names.map((c) => c.name)).not.toContain('orders');
    });

    it('refuses a new unique index over duplicated values and keeps the old declaration', async () => {
      const store = openStore();
      await store.ensureCollection({ name: 'users', indexes: [] });
      await store.bulkWrite('users', [
        upsert('u1', 1, { email: 'a@x' }),
        upsert('u2', 2, { email: 'a@x' }),
      ]);
      await expect(
        store.ensureCollection({ name: 'users', indexes: [{ field: 'email', unique: true }] }),
      ).rejects.toMatchObject({ code: ErrorCodes.VALIDATION, details: { field: 'email' } });
      await expect(store.find('users', { where: { email: 'a@x' } })).rejects.toThrow(
        NotIndexedError,
      );
    });

    it('lets documents with an explicit null in a unique field coexist', async () => {
      const store = openStore();
      await store.ensureCollection({ name: 'users', indexes: [{ field: 'email', unique: true }] });
      const result = await store.bulkWrite('users', [
        upsert('u1', 1, { email: null }),
        upsert('u2', 2, { email: null }),
      ]);
      expect(result).toEqual({ applied: 2, skipped: 0 });
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
    }, 120_000);

    it('pages across values of different types in MongoDB type order', async () => {
      const store = openStore();
      await store.ensureCollection({ name: 'mixed', indexes: [{ field: 'v' }] });
      const values: (JsonObject[string] | undefined)[] = [true, 'b', 2, undefined, 'a', 1, false];
      await store.bulkWrite(
        'mixed',
        values.map((v, i) => upsert(`m${i}`, i + 1, v === undefined ? {} : { v })),
      );
      for (const direction of ['asc', 'desc'] as const) {
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.find('mixed', {
            orderBy: { field: 'v', direction },
            limit: 2,
            ...(cursor === undefined ? {} : { cursor }),
          });
          seen.push(...page.items.map((item) => item.id));
          cursor = page.nextCursor;
        } while (cursor !== undefined);
        // missing < numbers < strings < booleans
        const asc = ['m3', 'm5', 'm2', 'm4', 'm1', 'm6', 'm0'];
        expect(seen).toEqual(direction === 'asc' ? asc : [...asc].reverse());
      }
    });
  });
}

describe('MongoDB read store options', () => {
  it('defaults to primary reads, majority writes and the streamfold database', () => {
    const resolved = resolveOptions({ url: 'mongodb://db.example:27017' });
    expect(resolved.database).toBe('streamfold');
    expect(resolved.client).toMatchObject({
      readPreference: 'primary',
      writeConcern: { w: 'majority' },
    });
  });

  it('lets the connection string choose, and explicit options override it', () => {
    const url = 'mongodb://a:1,b:2/reads?replicaSet=rs0&readPreference=secondaryPreferred&w=1';
    const fromUrl = resolveOptions({ url });
    expect(fromUrl.database).toBe('reads');
    expect(fromUrl.client.readPreference).toBeUndefined();
    expect(fromUrl.client.writeConcern).toBeUndefined();
    const explicit = resolveOptions({
      url,
      database: 'other',
      readPreference: 'nearest',
      writeConcern: { w: 2, journal: true, wtimeoutMs: 5_000 },
    });
    expect(explicit.database).toBe('other');
    expect(explicit.client).toMatchObject({
      readPreference: 'nearest',
      writeConcern: { w: 2, journal: true, wtimeoutMS: 5_000 },
    });
  });

  it('rejects malformed options with ConfigError', () => {
    const bad: MongoReadStoreOptions[] = [
      { url: 'postgres://x' },
      { url: 'mongodb://x', database: 'a.b' },
      { url: 'mongodb://x', readPreference: 'fastest' as 'nearest' },
      { url: 'mongodb://x', writeConcern: { w: -1 } },
      { url: 'mongodb://x', serverSelectionTimeoutMs: 0 },
    ];
    for (const options of bad) expect(() => createMongoReadStore(options)).toThrow(ConfigError);
    expect(() => createMongoReadStore({ url: 'mongodb://x:notaport' })).toThrow(ConfigError);
  });

  it('reports an unreachable server as its own error with the driver error as cause', async () => {
    const port = await freePort();
    const store = createMongoReadStore({
      url: `mongodb://127.0.0.1:${port}`,
      serverSelectionTimeoutMs: 300,
    });
    try {
      const failed = store.listCollections();
      await expect(failed).rejects.toThrow(/MongoDB read store: listCollections failed/);
      await expect(failed).rejects.toHaveProperty('cause.name', 'MongoServerSelectionError');
    } finally {
      await store.close();
    }
  });
});
