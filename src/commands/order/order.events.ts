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

/**
 * `pending` from placement until the order-processing workflow starts reserving stock;
 * `reserving` while it does; then `confirmed` or `rejected`. `cancelled` and `shipped` are
 * operator or customer actions.
 */
export type OrderStatus =
  'pending' | 'reserving' | 'confirmed' | 'rejected' | 'cancelled' | 'shipped';

/**
 * One order line. A sku appears at most once per order. Lines carry no price: an order is
 * priced when its stock is reserved, off the request path.
 */
export type OrderItem = Readonly<{ sku: string; quantity: number }>;

export type PricedLine = Readonly<{
  sku: string;
  quantity: number;
  unitPriceCents: number;
  /** quantity × unitPriceCents */
  lineTotalCents: number;
}>;

export type Discount = Readonly<{ code: string; description: string; amountCents: number }>;

/** An order's price, all amounts in whole cents: totalCents = subtotalCents − discountCents. */
export type Pricing = Readonly<{
  lines: readonly PricedLine[];
  /** Σ lineTotalCents */
  subtotalCents: number;
  /** In the order they were applied; only discounts that took something off are listed. */
  discounts: readonly Discount[];
  /** Σ discounts' amountCents */
  discountCents: number;
  totalCents: number;
}>;

export const OrderEventType = {
  OrderPlaced: 'OrderPlaced',
  OrderReservationStarted: 'OrderReservationStarted',
  OrderConfirmed: 'OrderConfirmed',
  OrderRejected: 'OrderRejected',
  OrderCancelled: 'OrderCancelled',
  OrderShipped: 'OrderShipped',
} as const;

/** `promoCode` is omitted, never undefined, when the customer gave none. */
export type OrderPlaced = JsonEvent<
  'OrderPlaced',
  Readonly<{ orderId: string; customerId: string; items: readonly OrderItem[]; promoCode?: string }>
>;

export type OrderReservationStarted = JsonEvent<
  'OrderReservationStarted',
  Readonly<{ orderId: string }>
>;

/**
 * `items` repeats the order's lines so that a consumer of confirmations (sales figures) needs
 * no other event. `pricing` is omitted when the order was confirmed without one (an operator's
 * manual confirmation).
 */
export type OrderConfirmed = JsonEvent<
  'OrderConfirmed',
  Readonly<{ orderId: string; items: readonly OrderItem[]; pricing?: Pricing }>
>;

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
  | OrderPlaced
  | OrderReservationStarted
  | OrderConfirmed
  | OrderRejected
  | OrderCancelled
  | OrderShipped;

export const orderEventTypes: readonly OrderEvent['type'][] = Object.values(OrderEventType);

/** The status each event leaves the order in; the decider and the projections share it. */
export const statusAfter: Readonly<Record<OrderEvent['type'], OrderStatus>> = {
  OrderPlaced: 'pending',
  OrderReservationStarted: 'reserving',
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
