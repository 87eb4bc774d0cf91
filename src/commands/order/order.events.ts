/**
 * The order aggregate's events: the contract between the write side and every projection.
 * Their data is stored as JSON, so each data type must be assignable to `JsonObject`; the
 * `JsonEvent` constraint makes the compiler prove it.
 */
import type { JsonObject } from '../../streams/event-store.js';
import type { DomainEvent } from '../decider.js';

type JsonEvent<Type extends string, Data extends JsonObject> = DomainEvent<Type, Data>;

/** One stream per order, keyed by order id. */
export const orderStreamId = (orderId: string): string => `order-${orderId}`;

export type OrderStatus = 'pending' | 'confirmed' | 'rejected' | 'cancelled' | 'shipped';

/** One order line. A sku appears at most once per order. */
export type OrderItem = Readonly<{ sku: string; quantity: number; unitPriceCents: number }>;

export const OrderEventType = {
  OrderPlaced: 'OrderPlaced',
  OrderConfirmed: 'OrderConfirmed',
  OrderRejected: 'OrderRejected',
  OrderCancelled: 'OrderCancelled',
  OrderShipped: 'OrderShipped',
} as const;

export type OrderPlaced = JsonEvent<
  'OrderPlaced',
  Readonly<{ orderId: string; customerId: string; items: readonly OrderItem[]; totalCents: number }>
>;

export type OrderConfirmed = JsonEvent<'OrderConfirmed', Readonly<{ orderId: string }>>;

export type OrderRejected = JsonEvent<
  'OrderRejected',
  Readonly<{ orderId: string; reason: string }>
>;

/** `reason` is omitted, never undefined, when the canceller gave none. */
export type OrderCancelled = JsonEvent<
  'OrderCancelled',
  Readonly<{ orderId: string; reason?: string }>
>;

export type OrderShipped = JsonEvent<'OrderShipped', Readonly<{ orderId: string }>>;

export type OrderEvent =
  OrderPlaced | OrderConfirmed | OrderRejected | OrderCancelled | OrderShipped;

export const orderEventTypes: readonly OrderEvent['type'][] = Object.values(OrderEventType);

/** The status each event leaves the order in; the decider and the projections share it. */
export const statusAfter: Readonly<Record<OrderEvent['type'], OrderStatus>> = {
  OrderPlaced: 'pending',
  OrderConfirmed: 'confirmed',
  OrderRejected: 'rejected',
  OrderCancelled: 'cancelled',
  OrderShipped: 'shipped',
};

const known: ReadonlySet<string> = new Set(orderEventTypes);

/**
 * Narrows a stored event to an order event by its type. The data is trusted: only the order
 * decider appends these types, and it validated them before they reached the log.
 */
export function isOrderEvent<E extends Readonly<{ type: string }>>(
  event: E,
): event is E & OrderEvent {
  return known.has(event.type);
}
