import { describe, expect, it } from 'vitest';
import type { OrderCommand } from '../../src/commands/order/order.decider.js';
import { orderDecider } from '../../src/commands/order/order.decider.js';
import type { OrderEvent, OrderItem, Pricing } from '../../src/commands/order/order.events.js';
import { orderStreamId } from '../../src/commands/order/order.events.js';
import { priceOrder } from '../../src/commands/order/pricing.rules.js';
import { ErrorCodes, NotFoundError, RuleViolation } from '../../src/errors.js';
import { spec } from '../support/decider-spec.js';

const orderId = 'o-1';
const items: readonly OrderItem[] = [
  { sku: 'KETTLE', quantity: 2 },
  { sku: 'MUG', quantity: 3 },
];
const pricing: Pricing = priceOrder(
  [
    { sku: 'KETTLE', quantity: 2, unitPriceCents: 2500 },
    { sku: 'MUG', quantity: 3, unitPriceCents: 800 },
  ],
  'FIVEOFF',
);

const placed: OrderEvent = { type: 'OrderPlaced', data: { orderId, customerId: 'c-1', items } };
const reserving: OrderEvent = { type: 'OrderReservationStarted', data: { orderId } };
const confirmed: OrderEvent = { type: 'OrderConfirmed', data: { orderId, items, pricing } };
const confirmedByHand: OrderEvent = { type: 'OrderConfirmed', data: { orderId, items } };
const rejected: OrderEvent = { type: 'OrderRejected', data: { orderId, reason: 'out of stock' } };
const cancelled: OrderEvent = { type: 'OrderCancelled', data: { orderId } };
const shipped: OrderEvent = { type: 'OrderShipped', data: { orderId } };

const placeOrder = (lines: readonly OrderItem[] = items, promoCode?: string): OrderCommand => ({
  type: 'PlaceOrder',
  data: {
    orderId,
    customerId: 'c-1',
    items: lines,
    ...(promoCode === undefined ? {} : { promoCode }),
  },
});
const startReservation: OrderCommand = { type: 'StartReservation', data: { orderId } };
const confirm: OrderCommand = { type: 'ConfirmOrder', data: { orderId, pricing } };
const confirmByHand: OrderCommand = { type: 'ConfirmOrder', data: { orderId } };
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
  it('places a pending order with its lines and no price', () => {
    order.given([]).when(placeOrder()).then([placed]);
  });

  it('records the promo code when one is given', () => {
    order
      .given([])
      .when(placeOrder(items, 'WELCOME10'))
      .then([
        {
          type: 'OrderPlaced',
          data: { orderId, customerId: 'c-1', items, promoCode: 'WELCOME10' },
        },
      ]);
  });

  it('records only the known fields of each line, so a client cannot set its own price', () => {
    const line = { sku: 'MUG', quantity: 1, unitPriceCents: 1, note: 'gift' };
    order
      .given([])
      .when(placeOrder([line]))
      .then([
        {
          type: 'OrderPlaced',
          data: { orderId, customerId: 'c-1', items: [{ sku: 'MUG', quantity: 1 }] },
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
          { sku: 'MUG', quantity: 1 },
          { sku: 'MUG', quantity: 2 },
        ]),
      )
      .thenThrows(RuleViolation, { rule: 'duplicate-sku', details: { sku: 'MUG' } });
  });

  it.each([0, -1, 1.5, Number.NaN, 2 ** 53])('refuses a quantity of %s', (quantity) => {
    order
      .given([])
      .when(placeOrder([{ sku: 'MUG', quantity }]))
      .thenThrows({ rule: 'invalid-quantity' });
  });

  it.each(['A', 'WELCOME10', 'spring_sale-2026', 'X'.repeat(40)])(
    'accepts the promo code %s',
    (promoCode) => {
      order
        .given([])
        .when(placeOrder(items, promoCode))
        .then([{ type: 'OrderPlaced', data: { orderId, customerId: 'c-1', items, promoCode } }]);
    },
  );

  it.each(['', 'X'.repeat(41), 'TEN OFF', 'DIX%', 'ÉTÉ', 'CODE\n'])(
    'refuses the promo code %j',
    (promoCode) => {
      order
        .given([])
        .when(placeOrder(items, promoCode))
        .thenThrows(RuleViolation, { rule: 'invalid-promo-code', details: { promoCode } });
    },
  );

  it('checks the input before the state: a malformed order is malformed even if it exists', () => {
    order
      .given([placed])
      .when(placeOrder(items, 'BAD CODE'))
      .thenThrows({ rule: 'invalid-promo-code' });
  });
});

describe('StartReservation', () => {
  it('moves a pending order to reserving', () => {
    order.given([placed]).when(startReservation).then([reserving]);
  });

  it('decides nothing for an order already reserving (a redelivered step)', () => {
    order.given([placed, reserving]).when(startReservation).thenNothing();
  });

  it('fails for an order that does not exist', () => {
    order.given([]).when(startReservation).thenThrows(NotFoundError);
  });

  it.each([
    ['confirmed', [placed, reserving, confirmed]],
    ['rejected', [placed, reserving, rejected]],
    ['cancelled', [placed, cancelled]],
    ['shipped', [placed, confirmed, shipped]],
  ] as const)('refuses an order that is %s', (status, history) => {
    order
      .given(history)
      .when(startReservation)
      .thenThrows(RuleViolation, { rule: 'order-not-pending', details: { orderStatus: status } });
  });
});

describe('ConfirmOrder', () => {
  it('confirms a reserving order with its pricing and lines', () => {
    order.given([placed, reserving]).when(confirm).then([confirmed]);
  });

  it('confirms a pending order too', () => {
    order.given([placed]).when(confirm).then([confirmed]);
  });

  it('confirms without a pricing, as an operator does by hand', () => {
    order.given([placed]).when(confirmByHand).then([confirmedByHand]);
  });

  it('records only the known fields of the pricing', () => {
    const padded = {
      ...pricing,
      currency: 'EUR',
      lines: pricing.lines.map((l) => ({ ...l, x: 1 })),
    };
    order
      .given([placed, reserving])
      .when({ type: 'ConfirmOrder', data: { orderId, pricing: padded } })
      .then([confirmed]);
  });

  it.each([
    ['a missing line', { ...pricing, lines: pricing.lines.slice(0, 1) }],
    [
      'a line for another sku',
      {
        ...pricing,
        lines: pricing.lines.map((line, i) => (i === 0 ? { ...line, sku: 'X' } : line)),
      },
    ],
    [
      'one sku priced twice instead of each once, however consistent',
      priceOrder(
        [
          { sku: 'KETTLE', quantity: 2, unitPriceCents: 2500 },
          { sku: 'KETTLE', quantity: 2, unitPriceCents: 2500 },
        ],
        undefined,
      ),
    ],
    [
      'another quantity',
      { ...pricing, lines: pricing.lines.map((line) => ({ ...line, quantity: 1 })) },
    ],
    ['a total that does not add up', { ...pricing, totalCents: pricing.totalCents + 1 }],
    ['a negative amount', { ...pricing, discountCents: -1, totalCents: pricing.subtotalCents + 1 }],
    ['fractional cents', { ...pricing, discountCents: 0.5, totalCents: pricing.totalCents + 0.5 }],
  ])('refuses a pricing with %s', (_case, bad) => {
    order
      .given([placed, reserving])
      .when({ type: 'ConfirmOrder', data: { orderId, pricing: bad } })
      .thenThrows(RuleViolation, { rule: 'invalid-pricing' });
  });

  it('decides nothing for an order already confirmed (a redelivered step)', () => {
    order.given([placed, reserving, confirmed]).when(confirm).thenNothing();
    order.given([placed, confirmedByHand]).when(confirm).thenNothing();
  });

  it('fails for an order that does not exist', () => {
    order.given([]).when(confirm).thenThrows(NotFoundError, { code: ErrorCodes.NOT_FOUND });
  });

  it.each([
    ['rejected', [placed, reserving, rejected]],
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
  it('rejects a reserving order with its reason', () => {
    order.given([placed, reserving]).when(reject).then([rejected]);
  });

  it('rejects a pending order too', () => {
    order.given([placed]).when(reject).then([rejected]);
  });

  it('decides nothing for an order already rejected (a redelivered step)', () => {
    order.given([placed, reserving, rejected]).when(reject).thenNothing();
  });

  it('fails for an order that does not exist', () => {
    order.given([]).when(reject).thenThrows(NotFoundError);
  });

  it.each([
    ['confirmed', [placed, confirmed]],
    ['cancelled', [placed, cancelled]],
    ['shipped', [placed, confirmed, shipped]],
  ] as const)('refuses an order that is %s', (status, history) => {
    order
      .given(history)
      .when(reject)
      .thenThrows(RuleViolation, { rule: 'order-not-pending', details: { orderStatus: status } });
  });
});

describe('CancelOrder', () => {
  it('cancels a pending order, omitting the reason when none is given', () => {
    order.given([placed]).when(cancel).then([cancelled]);
  });

  it('cancels an order while its stock is being reserved', () => {
    order.given([placed, reserving]).when(cancel).then([cancelled]);
  });

  it('cancels a confirmed order with its reason', () => {
    order
      .given([placed, reserving, confirmed])
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
    order.given([placed, reserving, confirmed]).when(ship).then([shipped]);
  });

  it('fails for an order that does not exist', () => {
    order.given([]).when(ship).thenThrows(NotFoundError);
  });

  it.each([
    ['pending', [placed]],
    ['reserving', [placed, reserving]],
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
  const fold = (events: readonly OrderEvent[]) =>
    events.reduce(orderDecider.evolve, orderDecider.initialState());

  it('follows the status through its events and keeps the pricing of the confirmation', () => {
    expect(fold([placed, reserving])).toStrictEqual({
      status: 'reserving',
      orderId,
      customerId: 'c-1',
      items,
    });
    expect(fold([placed, reserving, confirmed, shipped])).toStrictEqual({
      status: 'shipped',
      orderId,
      customerId: 'c-1',
      items,
      pricing,
    });
  });

  it('keeps the promo code of the placement', () => {
    const withCode: OrderEvent = {
      type: 'OrderPlaced',
      data: { orderId, customerId: 'c-1', items, promoCode: 'WELCOME10' },
    };
    expect(fold([withCode])).toMatchObject({ status: 'pending', promoCode: 'WELCOME10' });
  });

  it('has no pricing after a confirmation without one', () => {
    expect(fold([placed, confirmedByHand])).not.toHaveProperty('pricing');
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
