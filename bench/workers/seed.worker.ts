/**
 * Writes a checkout history straight into an SQLite event store file: the products, then
 * orders of one or three events each. Appends go through the public store, many at once, so
 * group commit writes them in large transactions.
 */
import { createSqliteEventStore } from '../../src/streams/sqlite/sqlite-event-store.js';
import { childArg, reportResult } from '../lib/children.js';
import { orderIdOf, orderLifecycle, productRegistered, SKUS } from '../lib/checkout.js';

export type SeedArg = Readonly<{
  path: string;
  orders: number;
  /** 1: placed only; up to 4: placed, reserving, confirmed, shipped. */
  eventsPerOrder: number;
}>;

export type SeedResult = Readonly<{
  events: number;
  seconds: number;
  /** The last order's id and the head of the log, to wait for the projections. */
  lastOrderId: string;
  head: string;
}>;

const CHUNK = 2000;

async function seed(arg: SeedArg): Promise<SeedResult> {
  const started = performance.now();
  const store = createSqliteEventStore({ path: arg.path });
  const at = new Date('2025-01-01T00:00:00Z').getTime();
  await Promise.all(
    SKUS.map((sku) =>
      store.append(`product-${sku}`, [productRegistered(sku, new Date(at).toISOString())]),
    ),
  );
  let events = SKUS.length;
  for (let from = 0; from < arg.orders; from += CHUNK) {
    const appends: Promise<unknown>[] = [];
    for (let i = from; i < Math.min(arg.orders, from + CHUNK); i++) {
      const occurredAt = new Date(at + i * 10).toISOString();
      const lifecycle = orderLifecycle(orderIdOf(i), i, occurredAt, arg.eventsPerOrder);
      events += lifecycle.length;
      appends.push(
        store.append(`order-${orderIdOf(i)}`, lifecycle, { expectedRevision: 'no-stream' }),
      );
    }
    await Promise.all(appends);
  }
  const head = (await store.headPosition()) ?? '';
  await store.close();
  const lastOrderId = orderIdOf(arg.orders - 1);
  return { events, seconds: (performance.now() - started) / 1000, lastOrderId, head };
}

reportResult(await seed(childArg<SeedArg>()));
