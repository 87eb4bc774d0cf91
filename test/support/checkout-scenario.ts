/**
 * The end-to-end checkout scenario over real HTTP. Every adapter combination runs it: call
 * `checkoutScenario` with a function that starts a server (every role) and returns its URL.
 * Orders are accepted with 202 and settled by the order-processing workflow.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, post } from './http.js';
import { eventually } from './eventually.js';

export type ScenarioServer = Readonly<{ url: string; stop(): Promise<void> }>;

type Command = { revision: number; position: string; orderId?: string; sku?: string };
type Problem = { type: string; status: number; code: string; rule?: string };
type Order = {
  orderId: string;
  status: string;
  totalCents: number | null;
  reason?: string;
  timeline: { status: string; at: string }[];
};

/** Polls an order until the workflow has settled it (confirmed or rejected). */
export async function settledOrder(
  url: string,
  orderId: string,
  timeoutMs = 15_000,
): Promise<Order> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await get<Order>(url, `/v1/orders/${orderId}`);
    if (response.status === 200 && !['pending', 'reserving'].includes(response.body.status)) {
      return response.body;
    }
    if (Date.now() > deadline)
      throw new Error(`order ${orderId} did not settle: ${JSON.stringify(response.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function checkoutScenario(name: string, start: () => Promise<ScenarioServer>): void {
  describe(`checkout over HTTP, ${name}`, () => {
    let server: ScenarioServer;
    let url: string;
    let last = '';
    const orders: Record<string, string> = {};

    /** Remembers the newest position so queries can ask to read their writes. */
    async function command(
      path: string,
      body: unknown,
      status: number,
      headers?: Record<string, string>,
    ) {
      const response = await post<Command>(url, path, body, headers);
      expect(response.status, JSON.stringify(response.body)).toBe(status);
      expect(response.headers.get('streamfold-position')).toBe(response.body.position);
      if (response.body.position > last) last = response.body.position;
      return response;
    }
    const fresh = () => ({ 'streamfold-min-position': last });

    async function place(body: Record<string, unknown>): Promise<string> {
      const response = await command('/v1/orders', body, 202);
      const orderId = String(response.body.orderId);
      expect(response.headers.get('location')).toBe(`/v1/orders/${orderId}`);
      return orderId;
    }

    beforeAll(async () => {
      server = await start();
      url = server.url;
    });
    afterAll(async () => server.stop());

    it('registers and restocks products', async () => {
      const apple = await command(
        '/v1/products',
        { sku: 'apple', name: 'Apple', priceCents: 120, initialStock: 10 },
        201,
      );
      expect(apple.headers.get('location')).toBe('/v1/products/apple');
      expect(apple.body).toMatchObject({ sku: 'apple', revision: 0 });
      await command(
        '/v1/products',
        { sku: 'pear', name: 'Pear', priceCents: 250, initialStock: 0 },
        201,
      );
      const restock = await command('/v1/products/pear/restock', { quantity: 5 }, 200);
      expect(restock.body.revision).toBe(1);
    });

    it('accepts orders with 202 and settles them on the event-driven path', async () => {
      orders.first = await place({
        customerId: 'c1',
        items: [
          { sku: 'apple', quantity: 2 },
          { sku: 'pear', quantity: 1 },
        ],
      });
      const first = await settledOrder(url, orders.first);
      expect(first).toMatchObject({ status: 'confirmed', totalCents: 2 * 120 + 250 });
      expect(first.timeline.map((step) => step.status)).toEqual([
        'pending',
        'reserving',
        'confirmed',
      ]);

      orders.second = await place({ customerId: 'c1', items: [{ sku: 'pear', quantity: 3 }] });
      orders.third = await place({
        orderId: 'o-3',
        customerId: 'c2',
        items: [{ sku: 'apple', quantity: 3 }],
      });
      expect(orders.third).toBe('o-3');
      orders.tooMany = await place({ customerId: 'c3', items: [{ sku: 'apple', quantity: 1000 }] });
      orders.unknown = await place({ customerId: 'c3', items: [{ sku: 'kiwi', quantity: 1 }] });
      expect((await settledOrder(url, orders.second)).status).toBe('confirmed');
      expect((await settledOrder(url, 'o-3')).status).toBe('confirmed');
      expect(await settledOrder(url, orders.tooMany)).toMatchObject({
        status: 'rejected',
        reason: 'insufficient stock for apple',
      });
      expect(await settledOrder(url, orders.unknown)).toMatchObject({
        status: 'rejected',
        reason: 'unknown product kiwi',
      });
    });

    it('ships and cancels', async () => {
      await command(`/v1/orders/${orders.first}/ship`, {}, 200);
      await command(`/v1/orders/${orders.second}/cancel`, { reason: 'changed my mind' }, 200);
    });

    it('answers every read model accordingly', async () => {
      const first = await get<Order>(url, `/v1/orders/${orders.first}`, fresh());
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({
        orderId: orders.first,
        customerId: 'c1',
        status: 'shipped',
        totalCents: 490,
      });
      expect(first.body.timeline.map((step) => step.status)).toEqual([
        'pending',
        'reserving',
        'confirmed',
        'shipped',
      ]);
      const second = await get(url, `/v1/orders/${orders.second}`, fresh());
      expect(second.body).toMatchObject({ status: 'cancelled', reason: 'changed my mind' });

      const c1 = await get<{ items: { orderId: string; status: string }[] }>(
        url,
        '/v1/customers/c1/orders',
        fresh(),
      );
      expect(c1.body.items.map((item) => item.orderId)).toEqual([orders.second, orders.first]);
      expect(c1.body.items.map((item) => item.status)).toEqual(['cancelled', 'shipped']);

      // The cancelled order's stock is released by the workflow, after the cancel's position.
      await eventually(async () => {
        const pear = await get(url, '/v1/products/pear', fresh());
        expect(pear.body).toMatchObject({ available: 4, reserved: 1 });
      });
      const apple = await get(url, '/v1/products/apple', fresh());
      expect(apple.body).toMatchObject({
        sku: 'apple',
        name: 'Apple',
        priceCents: 120,
        available: 5,
        reserved: 5,
      });

      const now = Date.now();
      const from = new Date(now - 60 * 60_000).toISOString();
      const to = new Date(now + 2 * 60_000).toISOString();
      const sales = await get<{
        minutes: { orders: number; units: number; revenueCents: number }[];
      }>(url, `/v1/stats/sales-per-minute?from=${from}&to=${to}`, fresh());
      expect(sales.status).toBe(200);
      const sum = sales.body.minutes.reduce(
        (acc, m) => ({
          orders: acc.orders + m.orders,
          units: acc.units + m.units,
          revenueCents: acc.revenueCents + m.revenueCents,
        }),
        { orders: 0, units: 0, revenueCents: 0 },
      );
      expect(sum).toEqual({ orders: 3, units: 3 + 3 + 3, revenueCents: 490 + 750 + 360 });
    });

    it('pages through a customer’s orders with a cursor', async () => {
      const page1 = await get<{ items: { orderId: string }[]; nextCursor?: string }>(
        url,
        '/v1/customers/c1/orders?limit=1',
        fresh(),
      );
      expect(page1.body.items.map((item) => item.orderId)).toEqual([orders.second]);
      expect(page1.body.nextCursor).toBeTypeOf('string');
      const page2 = await get<{ items: { orderId: string }[] }>(
        url,
        `/v1/customers/c1/orders?limit=1&cursor=${encodeURIComponent(page1.body.nextCursor ?? '')}`,
      );
      expect(page2.body.items.map((item) => item.orderId)).toEqual([orders.first]);
    });

    it('rejects bad input with problem+json and appends nothing', async () => {
      const before = await get(url, '/v1/products/apple', fresh());
      const cases: [string, unknown, number, string][] = [
        ['/v1/orders', { customerId: 'c1', items: [] }, 400, 'STREAMFOLD_VALIDATION'],
        [
          '/v1/orders',
          { customerId: 'c1', items: [{ sku: 'apple', quantity: 0 }] },
          400,
          'STREAMFOLD_VALIDATION',
        ],
        [
          '/v1/orders',
          { customerId: 'c1', items: [{ sku: 'apple', quantity: 1 }], extra: 1 },
          400,
          'STREAMFOLD_VALIDATION',
        ],
        [
          '/v1/orders',
          { orderId: 'o-3', customerId: 'c1', items: [{ sku: 'apple', quantity: 1 }] },
          422,
          'STREAMFOLD_RULE_VIOLATION',
        ],
        [
          '/v1/products',
          { sku: 'apple', name: 'Apple', priceCents: 1, initialStock: 1 },
          422,
          'STREAMFOLD_RULE_VIOLATION',
        ],
        [
          '/v1/products',
          { sku: 'bad sku!', name: 'x', priceCents: 1, initialStock: 1 },
          400,
          'STREAMFOLD_VALIDATION',
        ],
        ['/v1/products/kiwi/restock', { quantity: 1 }, 404, 'STREAMFOLD_NOT_FOUND'],
        [`/v1/orders/${orders.second}/ship`, {}, 422, 'STREAMFOLD_RULE_VIOLATION'],
        ['/v1/orders/missing/confirm', {}, 404, 'STREAMFOLD_NOT_FOUND'],
        [
          '/v1/products/apple/reserve',
          { orderId: 'o-9', quantity: 1000 },
          422,
          'STREAMFOLD_RULE_VIOLATION',
        ],
        ['/v1/products/apple/restock', { quantity: 1 }, 409, 'STREAMFOLD_CONFLICT'],
      ];
      for (const [path, body, status, code] of cases) {
        const headers: Record<string, string> = status === 409 ? { 'if-match': '"0"' } : {};
        const response = await post<Problem>(url, path, body, headers);
        expect(response.status, `${path} ${JSON.stringify(body)}`).toBe(status);
        expect(response.headers.get('content-type')).toContain('application/problem+json');
        expect(response.body).toMatchObject({ status, code });
        expect(response.body.type).toMatch(/^urn:streamfold:problem:/);
      }
      const after = await get(url, '/v1/products/apple', fresh());
      expect(after.body).toEqual(before.body);
      expect(after.headers.get('streamfold-position')).toBe(
        before.headers.get('streamfold-position'),
      );
    });

    it('answers unknown resources with 404 problem+json', async () => {
      for (const path of ['/v1/orders/nope', '/v1/products/nope', '/v1/nothing-here']) {
        const response = await get<Problem>(url, path);
        expect(response.status).toBe(404);
        expect(response.headers.get('content-type')).toContain('application/problem+json');
      }
    });

    it('serves health, readiness and the OpenAPI document', async () => {
      expect((await get(url, '/healthz')).body).toEqual({ status: 'ok' });
      expect((await get(url, '/readyz')).status).toBe(200);
      const openapi = await get<{ openapi: string; paths: Record<string, unknown> }>(
        url,
        '/docs/json',
      );
      expect(openapi.body.openapi).toMatch(/^3\./);
      expect(Object.keys(openapi.body.paths)).toEqual(
        expect.arrayContaining(['/v1/orders', '/v1/orders/{orderId}']),
      );
    });
  });
}
