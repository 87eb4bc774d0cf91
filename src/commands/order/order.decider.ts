/**
 * The order aggregate: what a customer asked for and where it stands. An order is placed
 * pending; the order-processing workflow confirms or rejects it once stock is reserved; a
 * pending or confirmed order may be cancelled; only a confirmed order ships.
 */
import { NotFoundError, RuleViolation } from '../../errors.js';
import { assertNonNegativeInteger, assertPositiveInteger } from '../checkout.rules.js';
import type { Command, Decider } from '../decider.js';
import { statusAfter } from './order.events.js';
import type { OrderEvent, OrderItem, OrderStatus } from './order.events.js';

/** Unit prices are resolved from the products by the command handler before deciding. */
export type PlaceOrder = Command<
  'PlaceOrder',
  Readonly<{ orderId: string; customerId: string; items: readonly OrderItem[] }>
>;
export type ConfirmOrder = Command<'ConfirmOrder', Readonly<{ orderId: string }>>;
export type RejectOrder = Command<'RejectOrder', Readonly<{ orderId: string; reason: string }>>;
export type CancelOrder = Command<'CancelOrder', Readonly<{ orderId: string; reason?: string }>>;
export type ShipOrder = Command<'ShipOrder', Readonly<{ orderId: string }>>;

export type OrderCommand = PlaceOrder | ConfirmOrder | RejectOrder | CancelOrder | ShipOrder;

export type PlacedOrderState = Readonly<{
  status: OrderStatus;
  orderId: string;
  customerId: string;
  items: readonly OrderItem[];
  totalCents: number;
}>;

export type OrderState = Readonly<{ status: 'absent' }> | PlacedOrderState;

const initialState = (): OrderState => ({ status: 'absent' });

function decide(command: OrderCommand, state: OrderState): readonly OrderEvent[] {
  switch (command.type) {
    case 'PlaceOrder':
      return place(command.data, state);
    case 'ConfirmOrder':
      requireStatus(placed(state, command.data.orderId), ['pending'], 'order-not-pending');
      return [{ type: 'OrderConfirmed', data: { orderId: command.data.orderId } }];
    case 'RejectOrder': {
      requireStatus(placed(state, command.data.orderId), ['pending'], 'order-not-pending');
      const { orderId, reason } = command.data;
      return [{ type: 'OrderRejected', data: { orderId, reason } }];
    }
    case 'CancelOrder':
      return cancel(command.data, state);
    case 'ShipOrder':
      requireStatus(placed(state, command.data.orderId), ['confirmed'], 'order-not-confirmed');
      return [{ type: 'OrderShipped', data: { orderId: command.data.orderId } }];
  }
}

function place(data: PlaceOrder['data'], state: OrderState): readonly OrderEvent[] {
  const items = validItems(data.items);
  const totalCents = items.reduce((sum, item) => sum + item.quantity * item.unitPriceCents, 0);
  if (!Number.isSafeInteger(totalCents)) {
    throw new RuleViolation('total-too-large', 'The order total is too large to represent', {
      totalCents,
    });
  }
  if (state.status !== 'absent') {
    throw new RuleViolation('order-exists', `Order ${data.orderId} already exists`, {
      orderId: data.orderId,
    });
  }
  const { orderId, customerId } = data;
  return [{ type: 'OrderPlaced', data: { orderId, customerId, items, totalCents } }];
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
    assertNonNegativeInteger(item.unitPriceCents, 'invalid-price', 'unitPriceCents');
    if (seen.has(item.sku)) {
      throw new RuleViolation('duplicate-sku', `Sku ${item.sku} appears more than once`, {
        sku: item.sku,
      });
    }
    seen.add(item.sku);
  }
  // Copy each line so that no field beyond the three known ones reaches the log.
  return items.map(({ sku, quantity, unitPriceCents }) => ({ sku, quantity, unitPriceCents }));
}

function cancel(data: CancelOrder['data'], state: OrderState): readonly OrderEvent[] {
  requireStatus(placed(state, data.orderId), ['pending', 'confirmed'], 'order-not-cancellable');
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
  if (event.type === 'OrderPlaced') {
    const { orderId, customerId, items, totalCents } = event.data;
    return { status: 'pending', orderId, customerId, items, totalCents };
  }
  // A status event without a placed order, or an event of an unknown type (looked up as an own
  // key so that a type such as 'toString' finds nothing), cannot be applied.
  const status = Object.hasOwn(statusAfter, event.type) ? statusAfter[event.type] : undefined;
  if (state.status === 'absent' || status === undefined) return state;
  return { ...state, status };
}

export const orderDecider: Decider<OrderCommand, OrderEvent, OrderState> = {
  initialState,
  decide,
  evolve,
};
