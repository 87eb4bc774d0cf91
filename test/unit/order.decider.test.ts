import { describe, expect, it } from 'vitest';
import type { OrderCommand } from '../../src/commands/order/order.decider.js';
import { orderDecider } from '../../src/commands/order/order.decider.js';
import type { OrderEvent, OrderItem } from '../../src/commands/order/order.events.js';
import { orderStreamId } from '../../src/commands/order/order.events.js';
import { ErrorCodes, NotFoundError, RuleViolation } from '../../src/errors.js';
import { spec } from '../support/decider-spec.js';

const orderId = 'o-1';
const items: readonly OrderItem[] = [
  { sku: 'KETTLE', quantity: 2, unitPriceCents: 2500 },
  { sku: 'MUG', quantity: 3, unitPriceCents: 800 },
];

const placed: OrderEvent = {
  type: 'OrderPlaced',
  data: { orderId, customerId: 'c-1', items, totalCents: 2 * 2500 + 3 * 800 },
};
const confirmed: OrderEvent = { type: 'OrderConfirmed', data: { orderId } };
const rejected: OrderEvent = { type: 'OrderRejected', data: { orderId, reason: 'out of stock' } };
const cancelled: OrderEvent = { type: 'OrderCancelled', data: { orderId } };
const shipped: OrderEvent = { type: 'OrderShipped', data: { orderId } };

const placeOrder = (lines: readonly OrderItem[] = items): OrderCommand => ({
  type: 'PlaceOrder',
  data: { orderId, customerId: 'c-1', items: lines },
});
const confirm: OrderCommand = { type: 'ConfirmOrder', data: { orderId } };
const reject: OrderCommand = { type: 'RejectOrder', data: { orderId, reason: 'out of stock' } };
const cancel: OrderCommand = { type: 'CancelOrder', data: { orderId } };
const ship: OrderCommand = { type: 'ShipOrder', data: { orderId } };

const order = spec(orderDecider);

describe('order stream', () => {
  it('is named after the order id', () => {
    expect(orderStreamId('o-1')).toBe('order-o-1');
  });
});

describe('PlaceOrder', () => {
  it('places a pending order totalling quantity × unit price over its lines', () => {
    order.given([]).when(placeOrder()).then([placed]);
  });

  it('totals free items as zero', () => {
    const free = [{ sku: 'STICKER', quantity: 5, unitPriceCents: 0 }];
    order
      .given([])
      .when(placeOrder(free))
      .then([
        { type: 'OrderPlaced', data: { orderId, customerId: 'c-1', items: free, totalCents: 0 } },
      ]);
  });

  it('records only the known fields of each line', () => {
    const line = { sku: 'MUG', quantity: 1, unitPriceCents: 800, note: 'gift' };
    order
      .given([])
      .when(placeOrder([line]))
      .then([
        {
          type: 'OrderPlaced',
          data: {
            orderId,
            customerId: 'c-1',
            items: [{ sku: 'MUG', quantity: 1, unitPriceCents: 800 }],
            totalCents: 800,
          },
        },
      ]);
  });

  it('refuses to place an order that already exists', () => {
    order
      .given([placed])
      .when(placeOrder())
      .thenThrows(RuleViolation, { rule: 'order-exists', details: { orderId } });
  });

  it('refuses an order without items', () => {
    order.given([]).when(placeOrder([])).thenThrows(RuleViolation, { rule: 'empty-order' });
  });

  it('refuses a sku that appears on two lines (duplicates are not merged)', () => {
    order
      .given([])
      .when(
        placeOrder([
          { sku: 'MUG', quantity: 1, unitPriceCents: 800 },
          { sku: 'MUG', quantity: 2, unitPriceCents: 800 },
        ]),
      )
      .thenThrows(RuleViolation, { rule: 'duplicate-sku', details: { sku: 'MUG' } });
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses a quantity of %s', (quantity) => {
    order
      .given([])
      .when(placeOrder([{ sku: 'MUG', quantity, unitPriceCents: 800 }]))
      .thenThrows({ rule: 'invalid-quantity' });
  });

  it.each([-1, 0.5])('refuses a unit price of %s', (unitPriceCents) => {
    order
      .given([])
      .when(placeOrder([{ sku: 'MUG', quantity: 1, unitPriceCents }]))
      .thenThrows({ rule: 'invalid-price' });
  });

  it('refuses a total beyond exact integer arithmetic', () => {
    const huge = { sku: 'GOLD', quantity: 1_000_000, unitPriceCents: Number.MAX_SAFE_INTEGER };
    order
      .given([])
      .when(placeOrder([huge]))
      .thenThrows({ rule: 'total-too-large' });
  });
});

describe('ConfirmOrder', () => {
  it('confirms a pending order', () => {
    order.given([placed]).when(confirm).then([confirmed]);
  });

  it('fails for an order that does not exist', () => {
    order.given([]).when(confirm).thenThrows(NotFoundError, { code: ErrorCodes.NOT_FOUND });
  });

  it.each([
    ['confirmed', [placed, confirmed]],
    ['rejected', [placed, rejected]],
    ['cancelled', [placed, cancelled]],
    ['shipped', [placed, confirmed, shipped]],
  ] as const)('refuses an order that is %s', (status, history) => {
    order
      .given(history)
      .when(confirm)
      .thenThrows(RuleViolation, { rule: 'order-not-pending', details: { orderStatus: status } });
  });
});

describe('RejectOrder', () => {
  it('rejects a pending order with its reason', () => {
    order.given([placed]).when(reject).then([rejected]);
  });

  it('fails for an order that does not exist', () => {
    order.given([]).when(reject).thenThrows(NotFoundError);
  });

  it.each([
    ['confirmed', [placed, confirmed]],
    ['rejected', [placed, rejected]],
    ['cancelled', [placed, cancelled]],
  ] as const)('refuses an order that is %s', (_status, history) => {
    order.given(history).when(reject).thenThrows({ rule: 'order-not-pending' });
  });
});

describe('CancelOrder', () => {
  it('cancels a pending order, omitting the reason when none is given', () => {
    order.given([placed]).when(cancel).then([cancelled]);
  });

  it('cancels a confirmed order with its reason', () => {
    order
      .given([placed, confirmed])
      .when({ type: 'CancelOrder', data: { orderId, reason: 'changed my mind' } })
      .then([{ type: 'OrderCancelled', data: { orderId, reason: 'changed my mind' } }]);
  });

  it('fails for an order that does not exist', () => {
    order.given([]).when(cancel).thenThrows(NotFoundError);
  });

  it.each([
    ['shipped', [placed, confirmed, shipped]],
    ['rejected', [placed, rejected]],
    ['cancelled', [placed, cancelled]],
  ] as const)('refuses an order that is %s', (status, history) => {
    order
      .given(history)
      .when(cancel)
      .thenThrows(RuleViolation, {
        rule: 'order-not-cancellable',
        details: { orderStatus: status },
      });
  });
});

describe('ShipOrder', () => {
  it('ships a confirmed order', () => {
    order.given([placed, confirmed]).when(ship).then([shipped]);
  });

  it('fails for an order that does not exist', () => {
    order.given([]).when(ship).thenThrows(NotFoundError);
  });

  it.each([
    ['pending', [placed]],
    ['shipped', [placed, confirmed, shipped]],
    ['rejected', [placed, rejected]],
    ['cancelled', [placed, confirmed, cancelled]],
  ] as const)('refuses an order that is %s', (status, history) => {
    order
      .given(history)
      .when(ship)
      .thenThrows(RuleViolation, { rule: 'order-not-confirmed', details: { orderStatus: status } });
  });
});

describe('order state', () => {
  it('follows the status through its events', () => {
    const state = [placed, confirmed, shipped].reduce(
      orderDecider.evolve,
      orderDecider.initialState(),
    );
    expect(state).toEqual({
      status: 'shipped',
      orderId,
      customerId: 'c-1',
      items,
      totalCents: 7400,
    });
  });

  it('ignores events of unknown types, even ones named like Object methods', () => {
    const state = orderDecider.evolve(orderDecider.initialState(), placed);
    for (const type of ['OrderArchived', 'toString', 'constructor']) {
      expect(orderDecider.evolve(state, { type, data: { orderId } } as never)).toBe(state);
    }
  });

  it('ignores a status event that has no placed order', () => {
    expect(orderDecider.evolve(orderDecider.initialState(), confirmed)).toEqual({
      status: 'absent',
    });
  });
});
