/**
 * Live updates in the distributed topology: the projector process that writes a document
 * publishes it over NATS, and the API process (which runs no projector) streams it over SSE.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post } from '../support/http.js';
import { startNatsCluster, type NatsCluster } from '../support/nats-cluster.js';
import { NATS_URL, requireService } from '../support/services.js';
import { openSse, type SseClient } from '../support/sse.js';

const ok = await requireService('NATS', NATS_URL, 'the NATS live-updates suite');

describe.skipIf(!ok)('live updates across processes over NATS', () => {
  let cluster: NatsCluster;
  const clients: SseClient[] = [];

  beforeAll(async () => {
    cluster = await startNatsCluster({ natsUrl: NATS_URL, projectorPartitions: ['0,1,2,3'] });
  }, 180_000);
  afterAll(async () => {
    clients.forEach((client) => client.close());
    await cluster.dispose();
  }, 120_000);

  it(
    'streams every change of a document written by another process',
    { timeout: 120_000 },
    async () => {
      const url = cluster.api.url;
      const created = await post(url, '/v1/products', {
        sku: 'lv',
        name: 'Live',
        priceCents: 300,
        initialStock: 0,
      });
      expect(created.status).toBe(201);
      const client = await openSse(`${url}/v1/live/product-stock/lv`);
      clients.push(client);
      expect(client.status).toBe(200);
      const first = await client.next(60_000);
      expect(JSON.parse(first.data)).toMatchObject({ sku: 'lv', available: 0 });

      // Every later version can only reach this API process through NATS: it runs no projector.
      const seen: number[] = [];
      const ids: string[] = [first.id ?? ''];
      for (let i = 1; i <= 5; i++) {
        expect((await post(url, '/v1/products/lv/restock', { quantity: 1 })).status).toBe(200);
        const event = await client.next(60_000);
        seen.push((JSON.parse(event.data) as { available: number }).available);
        ids.push(event.id ?? '');
      }
      expect(seen).toEqual([1, 2, 3, 4, 5]);
      expect([...ids].sort()).toEqual(ids);
    },
  );
});
