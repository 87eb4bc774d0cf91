import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { productStreamId } from '../../src/commands/product/product.events.js';
import { createSqliteEventStore } from '../../src/streams/sqlite/sqlite-event-store.js';
import { get, post } from '../support/http.js';
import { startEmbedded, type Embedded } from '../support/embedded.js';

describe('concurrent commands on one stream', () => {
  let server: Embedded;
  beforeAll(async () => {
    server = await startEmbedded();
    const created = await post(server.url, '/v1/products', {
      sku: 'hot',
      name: 'Hot',
      priceCents: 1,
      initialStock: 0,
    });
    expect(created.status).toBe(201);
  });
  afterAll(async () => server.stop());

  it('lets one writer win per expected revision and answers 409 to the rest', async () => {
    for (let revision = 0; revision < 5; revision++) {
      const responses = await Promise.all(
        Array.from({ length: 25 }, () =>
          post(
            server.url,
            '/v1/products/hot/restock',
            { quantity: 2 },
            { 'if-match': `"${revision}"` },
          ),
        ),
      );
      const statuses = responses.map((r) => r.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s === 409)).toHaveLength(24);
    }
  });

  it('loses no update when writers do not state a revision', async () => {
    const responses = await Promise.all(
      Array.from({ length: 50 }, () =>
        post(server.url, '/v1/products/hot/restock', { quantity: 1 }),
      ),
    );
    expect(responses.every((r) => r.status === 200)).toBe(true);
    const revisions = responses.map((r) => Number(r.body.revision)).sort((a, b) => a - b);
    expect(new Set(revisions).size).toBe(50);
    const last =
      responses
        .map((r) => String(r.body.position))
        .sort()
        .at(-1) ?? '';
    const product = await get(server.url, '/v1/products/hot', { 'streamfold-min-position': last });
    expect(product.body).toMatchObject({ available: 5 * 2 + 50 });
  });

  it('keeps the stream contiguous', async () => {
    const store = createSqliteEventStore({ path: `${server.dataDir}/events.db` });
    try {
      const events = await store.readStream(productStreamId('hot'));
      expect(events.map((e) => e.revision)).toEqual(events.map((_, i) => i));
      expect(events).toHaveLength(1 + 5 + 50);
    } finally {
      await store.close();
    }
  });
});
