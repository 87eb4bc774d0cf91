import { describe, expect, it } from 'vitest';
import type { OrderEvent, OrderItem, Pricing } from '../../src/commands/order/order.events.js';
import { orderStreamId } from '../../src/commands/order/order.events.js';
import { priceOrder } from '../../src/commands/order/pricing.rules.js';
import type { ProductEvent } from '../../src/commands/product/product.events.js';
import { productStreamId } from '../../src/commands/product/product.events.js';
import {
  checkoutProjections,
  customerOrdersProjection,
  minuteOf,
  orderViewProjection,
  productStockProjection,
  salesPerMinuteProjection,
} from '../../src/projections/index.js';
import type { RecordedEvent } from '../../src/streams/event-store.js';
import { createEventLog, project } from '../support/projection-spec.js';

const at = (time: string) => ({ occurredAt: `2026-11-22T${time}Z` });

const kettle: OrderItem = { sku: 'KETTLE', quantity: 2 };
const mug: OrderItem = { sku: 'MUG', quantity: 3 };
const PRICES: Readonly<Record<string, number>> = { KETTLE: 2500, MUG: 800 };

const placed = (
  orderId: string,
  customerId: string,
  items: readonly OrderItem[],
  promoCode?: string,
): OrderEvent => ({
  type: 'OrderPlaced',
  data: { orderId, customerId, items, ...(promoCode === undefined ? {} : { promoCode }) },
});

const pricingOf = (items: readonly OrderItem[], promoCode?: string): Pricing =>
  priceOrder(
    items.map((item) => ({ ...item, unitPriceCents: PRICES[item.sku] ?? 0 })),
    promoCode,
  );

const reserving = (orderId: string): OrderEvent => ({
  type: 'OrderReservationStarted',
  data: { orderId },
});

/** Confirmed with the pricing of its lines (at PRICES), as the workflow confirms. */
const confirmed = (
  orderId: string,
  items: readonly OrderItem[],
  promoCode?: string,
): OrderEvent => ({
  type: 'OrderConfirmed',
  data: { orderId, items, pricing: pricingOf(items, promoCode) },
});

/** Confirmed by an operator: no pricing. */
const confirmedByHand = (orderId: string, items: readonly OrderItem[]): OrderEvent => ({
  type: 'OrderConfirmed',
  data: { orderId, items },
});

/** Records order events on their order's stream. */
function orders() {
  const log = createEventLog();
  const record = (event: OrderEvent, time: string) =>
    log.record(orderStreamId(event.data.orderId), event, at(time));
  return { log, record };
}

/** Delivers every event twice, as an at-least-once bus may. */
const twice = (events: readonly RecordedEvent[]) => events.flatMap((event) => [event, event]);

/** Redelivers the whole history again after it was processed once. */
const replayed = (events: readonly RecordedEvent[]) => [...events, ...events];

describe('checkoutProjections', () => {
  it('lists the four checkout read models, each at version 1', () => {
    expect(checkoutProjections.map((p) => [p.name, p.version])).toEqual([
      ['order-view', 1],
      ['customer-orders', 1],
      ['product-stock', 1],
      ['sales-per-minute', 1],
    ]);
  });

  it('ignores events a projection does not handle', () => {
    const log = createEventLog();
    const event = log.record('other-1', { type: 'SomethingElse', data: { orderId: 'o-1' } });
    for (const projection of checkoutProjections) {
      expect(projection.documentId(event, { partition: 0 })).toBeUndefined();
    }
  });
});

describe('order-view', () => {
  function settledAndShipped() {
    const { record } = orders();
    return [
      record(placed('o-1', 'c-1', [kettle, mug], 'FIVEOFF'), '14:00:00.000'),
      record(reserving('o-1'), '14:00:00.200'),
      record(confirmed('o-1', [kettle, mug], 'FIVEOFF'), '14:00:01.500'),
      record({ type: 'OrderShipped', data: { orderId: 'o-1' } }, '16:30:00.000'),
    ];
  }

  it('describes a placed order as pending and not yet priced', () => {
    const { record } = orders();
    const events = [record(placed('o-1', 'c-1', [kettle]), '14:00:00.000')];
    expect(project(orderViewProjection, events).documents.get('o-1')).toStrictEqual({
      orderId: 'o-1',
      customerId: 'c-1',
      status: 'pending',
      items: [kettle],
      pricing: null,
      totalCents: null,
      placedAt: '2026-11-22T14:00:00.000Z',
      updatedAt: '2026-11-22T14:00:00.000Z',
      revision: 0,
      timeline: [{ status: 'pending', at: '2026-11-22T14:00:00.000Z' }],
    });
  });

  it('follows the order through reserving to confirmed with its pricing, and a step per status', () => {
    const { documents } = project(orderViewProjection, settledAndShipped());
    expect(documents.get('o-1')).toStrictEqual({
      orderId: 'o-1',
      customerId: 'c-1',
      status: 'shipped',
      items: [kettle, mug],
      promoCode: 'FIVEOFF',
      pricing: pricingOf([kettle, mug], 'FIVEOFF'),
      totalCents: 7400 - 500,
      placedAt: '2026-11-22T14:00:00.000Z',
      updatedAt: '2026-11-22T16:30:00.000Z',
      revision: 3,
      timeline: [
        { status: 'pending', at: '2026-11-22T14:00:00.000Z' },
        { status: 'reserving', at: '2026-11-22T14:00:00.200Z' },
        { status: 'confirmed', at: '2026-11-22T14:00:01.500Z' },
        { status: 'shipped', at: '2026-11-22T16:30:00.000Z' },
      ],
    });
  });

  it('shows a reserving order as reserving, still unpriced', () => {
    const events = settledAndShipped().slice(0, 2);
    expect(project(orderViewProjection, events).documents.get('o-1')).toMatchObject({
      status: 'reserving',
      pricing: null,
      totalCents: null,
      revision: 1,
      updatedAt: '2026-11-22T14:00:00.200Z',
    });
  });

  it('keeps the total unknown when an operator confirms without a pricing', () => {
    const { record } = orders();
    const events = [
      record(placed('o-1', 'c-1', [kettle]), '14:00:00.000'),
      record(confirmedByHand('o-1', [kettle]), '14:00:01.000'),
    ];
    expect(project(orderViewProjection, events).documents.get('o-1')).toMatchObject({
      status: 'confirmed',
      pricing: null,
      totalCents: null,
    });
  });

  it('keeps the reason of a rejection during reservation', () => {
    const { record } = orders();
    const events = [
      record(placed('o-1', 'c-1', [kettle]), '14:00:00.000'),
      record(reserving('o-1'), '14:00:00.500'),
      record(
        { type: 'OrderRejected', data: { orderId: 'o-1', reason: 'out of stock' } },
        '14:00:01.000',
      ),
    ];
    const doc = project(orderViewProjection, events).documents.get('o-1');
    expect(doc).toMatchObject({
      status: 'rejected',
      reason: 'out of stock',
      revision: 2,
      pricing: null,
      totalCents: null,
    });
    expect(doc?.timeline.map((step) => step.status)).toEqual(['pending', 'reserving', 'rejected']);
  });

  it('omits the reason of a cancellation without one', () => {
    const { record } = orders();
    const events = [
      record(placed('o-1', 'c-1', [kettle]), '14:00:00.000'),
      record({ type: 'OrderCancelled', data: { orderId: 'o-1' } }, '14:05:00.000'),
    ];
    const doc = project(orderViewProjection, events).documents.get('o-1');
    expect(doc?.status).toBe('cancelled');
    expect(doc).not.toHaveProperty('reason');
  });

  it('keeps one document per order', () => {
    const { record } = orders();
    const events = [
      record(placed('o-1', 'c-1', [kettle]), '14:00:00.000'),
      record(placed('o-2', 'c-1', [mug]), '14:00:01.000'),
      record(confirmed('o-2', [mug]), '14:00:02.000'),
    ];
    const { documents } = project(orderViewProjection, events);
    expect([...documents.keys()]).toEqual(['o-1', 'o-2']);
    expect(documents.get('o-1')).toMatchObject({ status: 'pending', totalCents: null });
    expect(documents.get('o-2')).toMatchObject({ status: 'confirmed', totalCents: 2400 });
  });

  it('writes nothing for a status event of an order it never saw placed', () => {
    const { record } = orders();
    const events = [
      record(reserving('o-9'), '14:00:00.000'),
      record(confirmed('o-9', [kettle]), '14:00:01.000'),
    ];
    expect(project(orderViewProjection, events).documents.size).toBe(0);
  });

  it('is unchanged when events are delivered twice', () => {
    const events = settledAndShipped();
    const once = project(orderViewProjection, events);
    for (const delivery of [twice(events), replayed(events)]) {
      const again = project(orderViewProjection, delivery);
      expect(again.documents).toStrictEqual(once.documents);
      expect(again.skipped).toBe(events.length);
    }
  });
});

describe('customer-orders', () => {
  function history() {
    const { record } = orders();
    return [
      record(placed('o-1', 'c-1', [kettle, mug]), '14:00:00.000'),
      record(placed('o-2', 'c-2', [mug]), '14:01:00.000'),
      record(placed('o-3', 'c-1', [kettle]), '14:02:00.000'),
      record(reserving('o-1'), '14:02:30.000'),
      record(confirmed('o-1', [kettle, mug]), '14:03:00.000'),
      record({ type: 'OrderCancelled', data: { orderId: 'o-3', reason: 'x' } }, '14:04:00.000'),
      record(reserving('o-2'), '14:05:00.000'),
    ];
  }

  it("keeps one small entry per order, so a customer's orders span partitions safely", () => {
    const { documents } = project(customerOrdersProjection, history());
    expect(documents.get('o-1')).toStrictEqual({
      orderId: 'o-1',
      customerId: 'c-1',
      status: 'confirmed',
      totalCents: 7400,
      itemCount: 5,
      placedAt: '2026-11-22T14:00:00.000Z',
      updatedAt: '2026-11-22T14:03:00.000Z',
    });
    expect(documents.get('o-3')).toMatchObject({
      status: 'cancelled',
      itemCount: 2,
      totalCents: null,
    });
  });

  it('shows an order as reserving, with no total until it is confirmed with a pricing', () => {
    const { documents } = project(customerOrdersProjection, history());
    expect(documents.get('o-2')).toMatchObject({
      status: 'reserving',
      totalCents: null,
      itemCount: 3,
      updatedAt: '2026-11-22T14:05:00.000Z',
    });
  });

  it('keeps the total unknown when an operator confirms without a pricing', () => {
    const { record } = orders();
    const events = [
      record(placed('o-1', 'c-1', [kettle]), '14:00:00.000'),
      record(confirmedByHand('o-1', [kettle]), '14:00:01.000'),
    ];
    expect(project(customerOrdersProjection, events).documents.get('o-1')).toMatchObject({
      status: 'confirmed',
      totalCents: null,
    });
  });

  it('carries the discounted total of the pricing', () => {
    const { record } = orders();
    const many: OrderItem = { sku: 'MUG', quantity: 20 };
    const events = [
      record(placed('o-1', 'c-1', [many], 'WELCOME10'), '14:00:00.000'),
      record(confirmed('o-1', [many], 'WELCOME10'), '14:00:01.000'),
    ];
    // 20 × 800 = 16000; VOLUME 5% → 15200; WELCOME10 10% → 13680.
    expect(project(customerOrdersProjection, events).documents.get('o-1')).toMatchObject({
      totalCents: 13_680,
      itemCount: 20,
    });
  });

  it("lets the query side list a customer's orders newest first", () => {
    const { documents } = project(customerOrdersProjection, history());
    const ofCustomer = [...documents.values()]
      .filter((doc) => doc.customerId === 'c-1')
      .sort((a, b) => b.placedAt.localeCompare(a.placedAt))
      .map((doc) => doc.orderId);
    expect(ofCustomer).toEqual(['o-3', 'o-1']);
    expect(customerOrdersProjection.indexes.map((index) => index.field)).toEqual([
      'customerId',
      'placedAt',
    ]);
  });

  it('writes nothing for a status event of an order it never saw placed', () => {
    const { record } = orders();
    const events = [
      record(reserving('o-9'), '14:00:00.000'),
      record({ type: 'OrderShipped', data: { orderId: 'o-9' } }, '14:00:01.000'),
    ];
    expect(project(customerOrdersProjection, events).documents.size).toBe(0);
  });

  it('is unchanged when events are delivered twice', () => {
    const events = history();
    const once = project(customerOrdersProjection, events);
    expect(project(customerOrdersProjection, twice(events)).documents).toStrictEqual(
      once.documents,
    );
    expect(project(customerOrdersProjection, replayed(events)).documents).toStrictEqual(
      once.documents,
    );
  });
});

describe('product-stock', () => {
  function history() {
    const log = createEventLog();
    const record = (event: ProductEvent, time: string) =>
      log.record(productStreamId(event.data.sku), event, at(time));
    const sku = 'KETTLE';
    return [
      record(
        {
          type: 'ProductRegistered',
          data: { sku, name: 'Kettle', priceCents: 2500, initialStock: 10 },
        },
        '13:00:00.000',
      ),
      record(
        { type: 'StockReserved', data: { sku, orderId: 'o-1', quantity: 4, unitPriceCents: 2500 } },
        '14:00:00.000',
      ),
      record(
        { type: 'StockReserved', data: { sku, orderId: 'o-2', quantity: 6, unitPriceCents: 2500 } },
        '14:01:00.000',
      ),
      record({ type: 'ProductRestocked', data: { sku, quantity: 5 } }, '14:02:00.000'),
      record({ type: 'StockReleased', data: { sku, orderId: 'o-1', quantity: 4 } }, '14:03:00.000'),
    ];
  }

  it('moves stock between available and reserved', () => {
    const events = history();
    const afterReservations = project(productStockProjection, events.slice(0, 3));
    expect(afterReservations.documents.get('KETTLE')).toMatchObject({ available: 0, reserved: 10 });

    expect(project(productStockProjection, events).documents.get('KETTLE')).toStrictEqual({
      sku: 'KETTLE',
      name: 'Kettle',
      priceCents: 2500,
      available: 9, // 10 − 4 − 6 + 5 + 4
      reserved: 6, // 4 + 6 − 4
      updatedAt: '2026-11-22T14:03:00.000Z',
    });
  });

  it('writes nothing for stock moves of a product it never saw registered', () => {
    const events = history().slice(1);
    expect(project(productStockProjection, events).documents.size).toBe(0);
  });

  it('is unchanged when events are delivered twice', () => {
    const events = history();
    const once = project(productStockProjection, events);
    expect(project(productStockProjection, twice(events)).documents).toStrictEqual(once.documents);
    expect(project(productStockProjection, replayed(events)).documents).toStrictEqual(
      once.documents,
    );
  });
});

describe('sales-per-minute', () => {
  const byStream = (partitions: Readonly<Record<string, number>>) => (event: RecordedEvent) =>
    partitions[event.streamId] ?? 0;

  it('counts confirmed orders, their units and revenue in the minute of the confirmation', () => {
    const { record } = orders();
    const events = [
      record(placed('o-1', 'c-1', [kettle, mug]), '14:06:50.000'),
      record(placed('o-2', 'c-2', [mug]), '14:07:00.000'),
      record(reserving('o-1'), '14:06:59.000'),
      record(confirmed('o-1', [kettle, mug]), '14:07:00.000'),
      record(confirmed('o-2', [mug]), '14:07:59.999'),
      record(placed('o-3', 'c-1', [kettle]), '14:08:00.000'),
      record(confirmed('o-3', [kettle]), '14:08:00.000'),
    ];
    const { documents } = project(salesPerMinuteProjection, events);
    expect(Object.fromEntries(documents)).toStrictEqual({
      '2026-11-22T14:07:00.000Z#p0': {
        minute: '2026-11-22T14:07:00.000Z',
        partition: 0,
        orders: 2,
        units: 8,
        revenueCents: 7400 + 2400,
      },
      '2026-11-22T14:08:00.000Z#p0': {
        minute: '2026-11-22T14:08:00.000Z',
        partition: 0,
        orders: 1,
        units: 2,
        revenueCents: 5000,
      },
    });
  });

  it('counts nothing for orders that are placed, reserving, rejected or cancelled', () => {
    const { record } = orders();
    const events = [
      record(placed('o-1', 'c-1', [kettle]), '14:07:00.000'),
      record(reserving('o-1'), '14:07:01.000'),
      record({ type: 'OrderRejected', data: { orderId: 'o-1', reason: 'x' } }, '14:07:02.000'),
      record(placed('o-2', 'c-1', [mug]), '14:07:03.000'),
      record({ type: 'OrderCancelled', data: { orderId: 'o-2' } }, '14:07:04.000'),
    ];
    expect(project(salesPerMinuteProjection, events).documents.size).toBe(0);
  });

  it('counts the discounted total as revenue', () => {
    const { record } = orders();
    const events = [record(confirmed('o-1', [kettle, mug], 'FIVEOFF'), '14:07:00.000')];
    expect(
      project(salesPerMinuteProjection, events).documents.get('2026-11-22T14:07:00.000Z#p0'),
    ).toMatchObject({ orders: 1, units: 5, revenueCents: 7400 - 500 });
  });

  it('counts a confirmation without a pricing as a sale of no known revenue', () => {
    const { record } = orders();
    const events = [
      record(confirmedByHand('o-1', [kettle, mug]), '14:07:00.000'),
      record(confirmed('o-2', [mug]), '14:07:30.000'),
    ];
    expect(
      project(salesPerMinuteProjection, events).documents.get('2026-11-22T14:07:00.000Z#p0'),
    ).toStrictEqual({
      minute: '2026-11-22T14:07:00.000Z',
      partition: 0,
      orders: 2,
      units: 8,
      revenueCents: 2400,
    });
  });

  it('counts a late confirmation in the earlier minute it happened in', () => {
    const { record } = orders();
    const events = [
      record(confirmed('o-1', [kettle]), '14:07:10.000'),
      record(confirmed('o-2', [kettle]), '14:09:30.000'),
      // Appended after the 14:09 confirmation, but it happened at 14:07.
      record(confirmed('o-3', [mug]), '14:07:45.000'),
    ];
    const { documents } = project(salesPerMinuteProjection, events);
    expect(documents.get('2026-11-22T14:07:00.000Z#p0')).toMatchObject({
      orders: 2,
      units: 5,
      revenueCents: 5000 + 2400,
    });
    expect(documents.get('2026-11-22T14:09:00.000Z#p0')).toMatchObject({ orders: 1, units: 2 });
    expect(documents.has('2026-11-22T14:08:00.000Z#p0')).toBe(false);
  });

  it('keeps one document per partition for the same minute, which queries sum', () => {
    const { record } = orders();
    const events = [
      record(confirmed('o-1', [kettle]), '14:07:01.000'),
      record(confirmed('o-2', [mug]), '14:07:02.000'),
      record(confirmed('o-3', [kettle, mug]), '14:07:03.000'),
    ];
    const partitionOf = byStream({ 'order-o-1': 0, 'order-o-2': 1, 'order-o-3': 1 });
    const { documents } = project(salesPerMinuteProjection, events, { partitionOf });
    expect(Object.fromEntries(documents)).toStrictEqual({
      '2026-11-22T14:07:00.000Z#p0': {
        minute: '2026-11-22T14:07:00.000Z',
        partition: 0,
        orders: 1,
        units: 2,
        revenueCents: 5000,
      },
      '2026-11-22T14:07:00.000Z#p1': {
        minute: '2026-11-22T14:07:00.000Z',
        partition: 1,
        orders: 2,
        units: 8,
        revenueCents: 2400 + 7400,
      },
    });
    const total = [...documents.values()].reduce((sum, doc) => sum + doc.orders, 0);
    expect(total).toBe(3);
  });

  it('is unchanged when events are delivered twice', () => {
    const { record } = orders();
    const events = [
      record(placed('o-1', 'c-1', [kettle]), '14:07:00.000'),
      record(confirmed('o-1', [kettle]), '14:07:01.000'),
      record(confirmed('o-2', [mug]), '14:07:02.000'),
    ];
    const once = project(salesPerMinuteProjection, events);
    for (const delivery of [twice(events), replayed(events)]) {
      const again = project(salesPerMinuteProjection, delivery);
      expect(again.documents).toStrictEqual(once.documents);
      expect(again.skipped).toBe(2);
    }
    expect(once.documents.get('2026-11-22T14:07:00.000Z#p0')).toMatchObject({ orders: 2 });
  });

  it('finds the minute of any ISO 8601 time, offsets included', () => {
    expect(minuteOf('2026-11-22T14:07:59.999Z')).toBe('2026-11-22T14:07:00.000Z');
    expect(minuteOf('2026-11-22T16:07:30+02:00')).toBe('2026-11-22T14:07:00.000Z');
    expect(minuteOf('1969-12-31T23:59:30.000Z')).toBe('1969-12-31T23:59:00.000Z');
    expect(minuteOf('not a time')).toBeUndefined();
  });

  it('skips an event whose time does not parse instead of failing the partition', () => {
    const log = createEventLog();
    const event = log.record('order-o-1', confirmed('o-1', [kettle]), { occurredAt: 'later' });
    expect(salesPerMinuteProjection.documentId(event, { partition: 0 })).toBeUndefined();
  });
});
