/**
 * The checkout workload every benchmark uses: the same products, the same order body and the
 * same events, so that both sides of a ratio carry the same payloads.
 */
import { randomUUID } from 'node:crypto';
import { orderDecider, type OrderCommand } from '../../src/commands/order/order.decider.js';
import type { OrderEvent } from '../../src/commands/order/order.events.js';
import type { NewEvent } from '../../src/streams/event-store.js';

export const SKUS = Array.from({ length: 20 }, (_, i) => `sku-${String(i).padStart(3, '0')}`);
export const PRICE_CENTS = 1250;

/** The body of `POST /v1/orders`: two lines, a customer, the server picks the order id. */
export function orderBody(i = 0): string {
  return JSON.stringify({ customerId: `customer-${i % 500}`, items: orderItems(i) });
}

export function productBody(sku: string): string {
  return JSON.stringify({
    sku,
    name: `Product ${sku}`,
    priceCents: PRICE_CENTS,
    initialStock: 1e9,
  });
}

export const restockBody = JSON.stringify({ quantity: 1 });

function metadata(occurredAt: string) {
  return { occurredAt, schemaVersion: 1, correlationId: randomUUID() };
}

export function productRegistered(sku: string, occurredAt: string): NewEvent {
  return {
    id: randomUUID(),
    type: 'ProductRegistered',
    data: { sku, name: `Product ${sku}`, priceCents: PRICE_CENTS, initialStock: 1e9 },
    metadata: metadata(occurredAt),
  };
}

/**
 * The events of one order's life, decided by the real order decider from the commands a
 * client and the order workflow send (place, start reserving, confirm, ship), so that they
 * always have the shape the projections expect. A command the decider refuses is skipped.
 */
export function orderLifecycle(
  orderId: string,
  i: number,
  occurredAt: string,
  max: number,
): NewEvent[] {
  const commands: OrderCommand[] = [
    {
      type: 'PlaceOrder',
      data: { orderId, customerId: `customer-${i % 500}`, items: orderItems(i) },
    },
    { type: 'StartReservation', data: { orderId } },
    { type: 'ConfirmOrder', data: { orderId } },
    { type: 'ShipOrder', data: { orderId } },
  ];
  let state = orderDecider.initialState();
  const events: NewEvent[] = [];
  for (const command of commands) {
    if (events.length >= max) break;
    let decided: readonly OrderEvent[];
    try {
      decided = orderDecider.decide(command, state);
    } catch {
      continue;
    }
    for (const event of decided) {
      state = orderDecider.evolve(state, event);
      events.push({
        id: randomUUID(),
        type: event.type,
        data: event.data,
        metadata: metadata(occurredAt),
      });
    }
  }
  return events.slice(0, max);
}

/** The lines of order i: two skus, the same for every benchmark. */
export function orderItems(i: number): { sku: string; quantity: number }[] {
  return [
    { sku: SKUS[i % SKUS.length] ?? 'sku-000', quantity: 2 },
    { sku: SKUS[(i + 7) % SKUS.length] ?? 'sku-007', quantity: 1 },
  ];
}

export const orderIdOf = (i: number): string => `o${String(i).padStart(9, '0')}`;
