/**
 * Live documents over Server-Sent Events, end to end: every change in order, one event each,
 * the position as the event id, and resuming with Last-Event-ID without a gap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbedded, type Embedded } from '../support/embedded.js';
import { get, post } from '../support/http.js';
import { openSse, type SseClient, type SseEvent } from '../support/sse.js';

type Product = { sku: string; available: number };

describe('live documents (SSE)', () => {
  let system: Embedded;
  const open: SseClient[] = [];
  const watch = async (path: string, headers?: Record<string, string>) => {
    const client = await openSse(`${system.url}${path}`, headers);
    open.push(client);
    return client;
  };
  const product = (event: SseEvent) => JSON.parse(event.data) as Product;

  async function newProduct(sku: string): Promise<string> {
    const created = await post<{ position: string }>(system.url, '/v1/products', {
      sku,
      name: sku,
      priceCents: 10,
      initialStock: 0,
    });
    expect(created.status).toBe(201);
    return created.body.position;
  }
  const restock = async (sku: string, quantity = 1) => {
    const response = await post<{ position: string }>(system.url, `/v1/products/${sku}/restock`, {
      quantity,
    });
    expect(response.status).toBe(200);
    return response.body.position;
  };

  beforeAll(async () => {
    system = await startEmbedded();
  });
  afterAll(async () => {
    // Streams still open: shutdown must end them rather than wait for them.
    await system.stop();
    open.forEach((client) => client.close());
  });

  it('streams the current version, then one event per change, in order, with the position as id', async () => {
    const created = await newProduct('live-a');
    const client = await watch('/v1/live/product-stock/live-a');
    expect(client.status).toBe(200);
    expect(client.contentType).toMatch(/^text\/event-stream/);
    const first = await client.next();
    expect(first).toMatchObject({ event: 'change', id: created });
    expect(product(first).available).toBe(0);

    const positions: string[] = [];
    // One restock at a time: each is a separate change the client must see.
    for (let i = 1; i <= 20; i++) {
      positions.push(await restock('live-a'));
      const event = await client.next();
      expect(event.id).toBe(positions.at(-1));
      expect(product(event).available).toBe(i);
    }
  });

  it('a burst of changes arrives in order, ending at the latest version', async () => {
    await newProduct('live-b');
    const client = await watch('/v1/live/product-stock/live-b');
    await client.next();
    const positions = await Promise.all(Array.from({ length: 30 }, () => restock('live-b')));
    const last = positions.sort().at(-1);
    let seen: SseEvent;
    let previous = '';
    do {
      seen = await client.next();
      expect(seen.id! > previous).toBe(true);
      previous = seen.id!;
    } while (seen.id !== last);
    expect(product(seen).available).toBe(30);
  });

  it('resumes after a reconnect with Last-Event-ID without a gap', async () => {
    await newProduct('live-c');
    const first = await watch('/v1/live/product-stock/live-c');
    await first.next();
    await restock('live-c');
    const kept = await first.next();
    first.close();

    // Changes while disconnected: the reconnecting client gets the latest at once.
    await restock('live-c');
    const latest = await restock('live-c');
    const again = await watch('/v1/live/product-stock/live-c', { 'last-event-id': kept.id! });
    const caughtUp = await again.next();
    expect(caughtUp.id).toBe(latest);
    expect(product(caughtUp).available).toBe(3);
    const next = await restock('live-c');
    expect((await again.next()).id).toBe(next);

    // Already up to date: nothing is repeated, the next change comes next.
    const current = await watch('/v1/live/product-stock/live-c', { 'last-event-id': next });
    const after = await restock('live-c');
    expect((await current.next()).id).toBe(after);
  });

  it('serves an order view at /v1/orders/:orderId/live', async () => {
    await newProduct('live-d');
    const position = await restock('live-d', 5);
    await get(system.url, '/v1/products/live-d', { 'streamfold-min-position': position });
    const placed = await post<{ orderId: string }>(system.url, '/v1/orders', {
      customerId: 'c-live',
      items: [{ sku: 'live-d', quantity: 1 }],
    });
    expect(placed.status).toBeLessThan(300);
    const client = await watch(`/v1/orders/${placed.body.orderId}/live`);
    // The order-processing workflow settles the order; the stream follows it to the end.
    const statuses: string[] = [];
    let previous = '';
    for (;;) {
      const event = await client.next();
      expect(event.id! > previous).toBe(true);
      previous = event.id!;
      const order = JSON.parse(event.data) as { status: string };
      statuses.push(order.status);
      if (!['pending', 'reserving'].includes(order.status)) break;
    }
    const final = await get<{ status: string; timeline: { status: string }[] }>(
      system.url,
      `/v1/orders/${placed.body.orderId}`,
      { 'streamfold-min-position': previous },
    );
    expect(statuses.at(-1)).toBe(final.body.status);
  });

  it('an unknown projection is a 404 problem', async () => {
    const response = await get(system.url, '/v1/live/no-such-projection/x');
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/problem\+json/);
  });
});
