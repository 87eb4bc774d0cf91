import { afterEach, describe, expect, it } from 'vitest';
import { startEmbedded, type Embedded } from '../support/embedded.js';
import { get, post } from '../support/http.js';
import { settledOrder } from '../support/checkout-scenario.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { eventually } from '../support/eventually.js';

type Letter = {
  id: string;
  workflow: string;
  status: string;
  attempts: number;
  error: string | null;
};

describe('order processing on the event-driven path', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(
    webhook: WebhookReceiver,
    env: Record<string, string> = {},
  ): Promise<Embedded> {
    const server = await startEmbedded({
      STREAMFOLD_NOTIFIER_URL: webhook.url,
      STREAMFOLD_WORKFLOW_RETRY_MS: '5',
      ...env,
    });
    cleanups.push(() => server.stop());
    return server;
  }

  async function receiver(
    mode?: Parameters<typeof startWebhookReceiver>[0],
  ): Promise<WebhookReceiver> {
    const webhook = await startWebhookReceiver(mode);
    cleanups.push(() => webhook.close());
    return webhook;
  }

  it(
    'settles 200 concurrent orders on 5 scarce products without overselling',
    { timeout: 120_000 },
    async () => {
      const webhook = await receiver();
      const { url } = await start(webhook);
      const skus = ['s1', 's2', 's3', 's4', 's5'];
      for (const sku of skus) {
        expect(
          (await post(url, '/v1/products', { sku, name: sku, priceCents: 100, initialStock: 30 }))
            .status,
        ).toBe(201);
      }
      const placed = await Promise.all(
        Array.from({ length: 200 }, (_, i) => {
          const items = [{ sku: skus[i % 5] ?? 's1', quantity: 1 + (i % 3) }];
          if (i % 4 === 0) items.push({ sku: skus[(i + 2) % 5] ?? 's1', quantity: 1 });
          return post<{ orderId: string }>(url, '/v1/orders', {
            orderId: `bulk-${i}`,
            customerId: `c${i % 10}`,
            items,
          }).then((response) => ({ response, items }));
        }),
      );
      expect(placed.every(({ response }) => response.status === 202)).toBe(true);

      const reservedBySku = new Map<string, number>(skus.map((sku) => [sku, 0]));
      let confirmed = 0;
      for (const [i, { items }] of placed.entries()) {
        const order = await settledOrder(url, `bulk-${i}`);
        expect(['confirmed', 'rejected']).toContain(order.status);
        if (order.status !== 'confirmed') continue;
        confirmed++;
        for (const item of items)
          reservedBySku.set(item.sku, (reservedBySku.get(item.sku) ?? 0) + item.quantity);
      }
      expect(confirmed).toBeGreaterThan(0);
      expect(confirmed).toBeLessThan(200);

      for (const sku of skus) {
        const reserved = reservedBySku.get(sku) ?? 0;
        expect(reserved).toBeLessThanOrEqual(30);
        await eventually(async () => {
          const product = await get(url, `/v1/products/${sku}`);
          expect(product.body).toMatchObject({ reserved, available: 30 - reserved });
        });
      }
      await eventually(async () => expect(new Set(webhook.accepted).size).toBe(200));
      expect(webhook.accepted).toHaveLength(200);
    },
  );

  it('delivers notifications after transient failures of the notifier', async () => {
    const webhook = await receiver({ kind: 'flaky', times: 2 });
    const { url } = await start(webhook);
    await post(url, '/v1/products', { sku: 'p', name: 'P', priceCents: 5, initialStock: 10 });
    for (const orderId of ['t1', 't2', 't3']) {
      await post(url, '/v1/orders', {
        orderId,
        customerId: 'c',
        items: [{ sku: 'p', quantity: 1 }],
      });
    }
    await eventually(async () =>
      expect([...webhook.accepted].sort()).toEqual([
        't1:order-confirmed',
        't2:order-confirmed',
        't3:order-confirmed',
      ]),
    );
    expect(webhook.attempts.length).toBe(9);
    const letters = await get<{ items: Letter[] }>(url, '/v1/admin/dead-letters');
    expect(letters.body.items).toEqual([]);
  });

  it('dead-letters a notification that keeps failing, and delivers it on retry once the fault clears', async () => {
    const webhook = await receiver({ kind: 'down' });
    const { url } = await start(webhook, { STREAMFOLD_WORKFLOW_MAX_ATTEMPTS: '3' });
    await post(url, '/v1/products', { sku: 'p', name: 'P', priceCents: 5, initialStock: 10 });
    await post(url, '/v1/orders', {
      orderId: 'd1',
      customerId: 'c',
      items: [{ sku: 'p', quantity: 1 }],
    });
    expect((await settledOrder(url, 'd1')).status).toBe('confirmed');

    const letter = await eventually(async () => {
      const list = await get<{ items: Letter[] }>(url, '/v1/admin/dead-letters?status=failed');
      expect(list.body.items).toHaveLength(1);
      return list.body.items[0] as Letter;
    });
    expect(letter).toMatchObject({ workflow: 'workflow:notification:v1', attempts: 3 });
    expect(letter.error).toContain('503');
    expect(webhook.accepted).toEqual([]);

    // Another order's notification flows meanwhile: only the failed stream is held back.
    webhook.setMode({ kind: 'ok' });
    await post(url, '/v1/orders', {
      orderId: 'd2',
      customerId: 'c',
      items: [{ sku: 'p', quantity: 1 }],
    });
    await eventually(async () => expect(webhook.accepted).toEqual(['d2:order-confirmed']));

    const retry = await post<Letter>(
      url,
      `/v1/admin/dead-letters/${encodeURIComponent(letter.id)}/retry`,
    );
    expect(retry.status).toBe(202);
    expect(retry.body.status).toBe('retry-requested');
    await eventually(async () =>
      expect(webhook.accepted).toEqual(['d2:order-confirmed', 'd1:order-confirmed']),
    );
    await eventually(async () => {
      const resolved = await get<{ items: Letter[] }>(
        url,
        '/v1/admin/dead-letters?status=resolved',
      );
      expect(resolved.body.items.map((item) => item.id)).toEqual([letter.id]);
    });
    const again = await post(url, `/v1/admin/dead-letters/${encodeURIComponent(letter.id)}/retry`);
    expect(again.status).toBe(422);
  });
});
