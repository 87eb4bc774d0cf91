/**
 * The order aggregate: what a customer asked for and where it stands. An order is placed
 * pending, unpriced; the order-processing workflow starts reserving its stock, then confirms
 * it with its pricing or rejects it. The workflow's steps are idempotent (a redelivered step
 * decides nothing), so a retried or restarted workflow cannot move an order twice. A pending,
 * reserving or confirmed order may be cancelled; only a confirmed order ships.
 */
import { NotFoundError, RuleViolation } from '../../errors.js';
import { assertPositiveInteger } from '../checkout.rules.js';
import type { Command, Decider } from '../decider.js';
import { statusAfter } from './order.events.js';
import type { OrderEvent, OrderItem, OrderStatus, Pricing } from './order.events.js';
import { checkedPricing } from './pricing.rules.js';

export type PlaceOrder = Command<
  'PlaceOrder',
  Readonly<{ orderId: string; customerId: string; items: readonly OrderItem[]; promoCode?: string }>
>;
export type StartReservation = Command<'StartReservation', Readonly<{ orderId: string }>>;
/** `pricing` is absent when an operator confirms by hand. */
export type ConfirmOrder = Command<
  'ConfirmOrder',
  Readonly<{ orderId: string; pricing?: Pricing }>
>;
export type RejectOrder = Command<'RejectOrder', Readonly<{ orderId: string; reason: string }>>;
export type CancelOrder = Command<'CancelOrder', Readonly<{ orderId: string; reason?: string }>>;
export type ShipOrder = Command<'ShipOrder', Readonly<{ orderId: string }>>;

export type OrderCommand =
  PlaceOrder | StartReservation | ConfirmOrder | RejectOrder | CancelOrder | ShipOrder;

export type PlacedOrderState = Readonly<{
  status: OrderStatus;
  orderId: string;
  customerId: string;
  items: readonly OrderItem[];
  /** Absent when the customer gave none. */
  promoCode?: string;
  /** Set once the order is confirmed with a pricing. */
  pricing?: Pricing;
}>;

export type OrderState = Readonly<{ status: 'absent' }> | PlacedOrderState;

/** 1 to 40 letters, digits, `_` or `-`: enough for any code, and safe in logs and URLs. */
const PROMO_CODE = /^[A-Za-z0-9_-]{1,40}$/;

const initialState = (): OrderState => ({ status: 'absent' });

function decide(command: OrderCommand, state: OrderState): readonly OrderEvent[] {
  switch (command.type) {
    case 'PlaceOrder':
      return place(command.data, state);
    case 'StartReservation':
      return startReservation(command.data, state);
    case 'ConfirmOrder':
      return confirm(command.data, state);
    case 'RejectOrder':
      return reject(command.data, state);
    case 'CancelOrder':
      return cancel(command.data, state);
    case 'ShipOrder':
      requireStatus(placed(state, command.data.orderId), ['confirmed'], 'order-not-confirmed');
      return [{ type: 'OrderShipped', data: { orderId: command.data.orderId } }];
  }
}

// Input is checked before state: a malformed command is malformed whatever the order's state.

function place(data: PlaceOrder['data'], state: OrderState): readonly OrderEvent[] {
  const items = validItems(data.items);
  const { orderId, customerId, promoCode } = data;
  if (promoCode !== undefined && !PROMO_CODE.test(promoCode)) {
    throw new RuleViolation(
      'invalid-promo-code',
      'A promo code is 1 to 40 letters, digits, "_" or "-"',
      { promoCode },
    );
  }
  if (state.status !== 'absent') {
    throw new RuleViolation('order-exists', `Order ${orderId} already exists`, { orderId });
  }
  const placedData = { orderId, customerId, items };
  return [
    {
      type: 'OrderPlaced',
      data: promoCode === undefined ? placedData : { ...placedData, promoCode },
    },
  ];
}

/**
 * Lines must be non-empty and name each sku once. Duplicates are rejected rather than merged:
 * a product reserves stock once per order, so one line per sku keeps an order's lines and its
 * reservations one to one, and a client that sends a sku twice most likely made a mistake.
 */
function validItems(items: readonly OrderItem[]): readonly OrderItem[] {
  if (items.length === 0)
    throw new RuleViolation('empty-order', 'An order needs at least one item');
  const seen = new Set<string>();
  for (const item of items) {
    assertPositiveInteger(item.quantity, 'invalid-quantity', 'quantity');
    if (seen.has(item.sku)) {
      throw new RuleViolation('duplicate-sku', `Sku ${item.sku} appears more than once`, {
        sku: item.sku,
      });
    }
    seen.add(item.sku);
  }
  // Copy each line so that no field beyond the known ones (a client's price, say) reaches the log.
  return items.map(({ sku, quantity }) => ({ sku, quantity }));
}

// The workflow's steps decide nothing when the order is already where the step would take it,
// so a redelivered trigger or a restarted workflow repeats a step harmlessly.

function startReservation(
  data: StartReservation['data'],
  state: OrderState,
): readonly OrderEvent[] {
  const order = placed(state, data.orderId);
  if (order.status === 'reserving') return [];
  requireStatus(order, ['pending'], 'order-not-pending');
  return [{ type: 'OrderReservationStarted', data: { orderId: data.orderId } }];
}

function confirm(data: ConfirmOrder['data'], state: OrderState): readonly OrderEvent[] {
  const order = placed(state, data.orderId);
  if (order.status === 'confirmed') return [];
  requireStatus(order, ['pending', 'reserving'], 'order-not-pending');
  const confirmed = { orderId: data.orderId, items: order.items };
  const pricing =
    data.pricing === undefined ? undefined : checkedPricing(data.pricing, order.items);
  return [
    {
      type: 'OrderConfirmed',
      data: pricing === undefined ? confirmed : { ...confirmed, pricing },
    },
  ];
}

function reject(data: RejectOrder['data'], state: OrderState): readonly OrderEvent[] {
  const order = placed(state, data.orderId);
  if (order.status === 'rejected') return [];
  requireStatus(order, ['pending', 'reserving'], 'order-not-pending');
  const { orderId, reason } = data;
  return [{ type: 'OrderRejected', data: { orderId, reason } }];
}

function cancel(data: CancelOrder['data'], state: OrderState): readonly OrderEvent[] {
  requireStatus(
    placed(state, data.orderId),
    ['pending', 'reserving', 'confirmed'],
    'order-not-cancellable',
  );
  const { orderId, reason } = data;
  return [
    { type: 'OrderCancelled', data: reason === undefined ? { orderId } : { orderId, reason } },
  ];
}

function placed(state: OrderState, orderId: string): PlacedOrderState {
  if (state.status === 'absent')
    throw new NotFoundError(`Order ${orderId} does not exist`, { orderId });
  return state;
}

/** Details say `orderStatus`, not `status`, which problem+json reserves for the HTTP status. */
function requireStatus(
  order: PlacedOrderState,
  allowed: readonly OrderStatus[],
  rule: string,
): void {
  if (!allowed.includes(order.status)) {
    throw new RuleViolation(rule, `Order ${order.orderId} is ${order.status}`, {
      orderId: order.orderId,
      orderStatus: order.status,
    });
  }
}

function evolve(state: OrderState, event: OrderEvent): OrderState {
  if (event.type === 'OrderPlaced') return { status: 'pending', ...event.data };
  // A status event without a placed order, or an event of an unknown type (looked up as an own
  // key so that a type such as 'toString' finds nothing), cannot be applied.
  const status = Object.hasOwn(statusAfter, event.type) ? statusAfter[event.type] : undefined;
  if (state.status === 'absent' || status === undefined) return state;
  if (event.type === 'OrderConfirmed' && event.data.pricing !== undefined) {
    return { ...state, status, pricing: event.data.pricing };
  }
  return { ...state, status };
}

export const orderDecider: Decider<OrderCommand, OrderEvent, OrderState> = {
  initialState,
  decide,
  evolve,
};
