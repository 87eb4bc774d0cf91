import { describe, expect, it } from 'vitest';
import type { ProductCommand } from '../../src/commands/product/product.decider.js';
import { productDecider } from '../../src/commands/product/product.decider.js';
import type { ProductEvent } from '../../src/commands/product/product.events.js';
import { productStreamId } from '../../src/commands/product/product.events.js';
import { ErrorCodes, NotFoundError, RuleViolation } from '../../src/errors.js';
import { spec } from '../support/decider-spec.js';

const sku = 'SKU-1';

const registered: ProductEvent = {
  type: 'ProductRegistered',
  data: { sku, name: 'Kettle', priceCents: 2500, initialStock: 10 },
};
const restocked = (quantity: number): ProductEvent => ({
  type: 'ProductRestocked',
  data: { sku, quantity },
});
const reserved = (orderId: string, quantity: number): ProductEvent => ({
  type: 'StockReserved',
  data: { sku, orderId, quantity, unitPriceCents: 2500 },
});
const released = (orderId: string, quantity: number): ProductEvent => ({
  type: 'StockReleased',
  data: { sku, orderId, quantity },
});

const register = (data: Partial<{ priceCents: number; initialStock: number }> = {}) =>
  ({
    type: 'RegisterProduct',
    data: { sku, name: 'Kettle', priceCents: 2500, initialStock: 10, ...data },
  }) satisfies ProductCommand;
const restock = (quantity: number): ProductCommand => ({
  type: 'RestockProduct',
  data: { sku, quantity },
});
const reserve = (orderId: string, quantity: number): ProductCommand => ({
  type: 'ReserveStock',
  data: { sku, orderId, quantity },
});
const release = (orderId: string): ProductCommand => ({
  type: 'ReleaseStock',
  data: { sku, orderId },
});

const product = spec(productDecider);

describe('product stream', () => {
  it('is named after the sku', () => {
    expect(productStreamId('SKU-1')).toBe('product-SKU-1');
  });
});

describe('RegisterProduct', () => {
  it('registers a new product with its price and initial stock', () => {
    product.given([]).when(register()).then([registered]);
  });

  it('accepts a free product with no stock', () => {
    product
      .given([])
      .when(register({ priceCents: 0, initialStock: 0 }))
      .then([
        {
          type: 'ProductRegistered',
          data: { sku, name: 'Kettle', priceCents: 0, initialStock: 0 },
        },
      ]);
  });

  it('refuses to register the same sku twice', () => {
    product
      .given([registered])
      .when(register())
      .thenThrows(RuleViolation, {
        rule: 'product-exists',
        details: { rule: 'product-exists', sku },
      });
  });

  it.each([-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1])(
    'refuses a price of %s',
    (priceCents) => {
      product.given([]).when(register({ priceCents })).thenThrows({ rule: 'invalid-price' });
    },
  );

  it.each([-1, 0.5, Number.POSITIVE_INFINITY])('refuses an initial stock of %s', (initialStock) => {
    product.given([]).when(register({ initialStock })).thenThrows({ rule: 'invalid-quantity' });
  });
});

describe('RestockProduct', () => {
  it('adds stock', () => {
    product
      .given([registered])
      .when(restock(5))
      .then([restocked(5)]);
  });

  it('fails for a product that was never registered', () => {
    product
      .given([])
      .when(restock(5))
      .thenThrows(NotFoundError, { code: ErrorCodes.NOT_FOUND, details: { sku } });
  });

  it.each([0, -3, 2.5])('refuses a quantity of %s', (quantity) => {
    product
      .given([registered])
      .when(restock(quantity))
      .thenThrows(RuleViolation, { rule: 'invalid-quantity' });
  });
});

describe('ReserveStock', () => {
  it('reserves stock at the current price', () => {
    product
      .given([registered])
      .when(reserve('o-1', 4))
      .then([reserved('o-1', 4)]);
  });

  it('may reserve everything that is available', () => {
    product
      .given([registered])
      .when(reserve('o-1', 10))
      .then([reserved('o-1', 10)]);
  });

  it('refuses to reserve more than is available, saying how much is', () => {
    product
      .given([registered, reserved('o-1', 7)])
      .when(reserve('o-2', 4))
      .thenThrows(RuleViolation, {
        code: ErrorCodes.RULE_VIOLATION,
        rule: 'insufficient-stock',
        details: { available: 3, requested: 4 },
      });
  });

  it('counts restocked and released stock as available again', () => {
    product
      .given([registered, reserved('o-1', 10), restocked(2), released('o-1', 10)])
      .when(reserve('o-2', 12))
      .then([reserved('o-2', 12)]);
  });

  it('decides nothing when the order already holds a reservation (a retried step)', () => {
    product
      .given([registered, reserved('o-1', 4)])
      .when(reserve('o-1', 4))
      .thenNothing();
  });

  it('decides nothing for a retry even when the stock has since run out', () => {
    product
      .given([registered, reserved('o-1', 4), reserved('o-2', 6)])
      .when(reserve('o-1', 4))
      .thenNothing();
  });

  it('decides nothing for an order whose reservation was already released', () => {
    product
      .given([registered, reserved('o-1', 4), released('o-1', 4)])
      .when(reserve('o-1', 4))
      .thenNothing();
  });

  it('fails for a product that was never registered', () => {
    product.given([]).when(reserve('o-1', 1)).thenThrows(NotFoundError);
  });

  it.each([0, -1, 1.5])('refuses a quantity of %s', (quantity) => {
    product.given([registered]).when(reserve('o-1', quantity)).thenThrows({
      rule: 'invalid-quantity',
    });
  });
});

describe('ReleaseStock', () => {
  it("returns the order's whole reservation to stock", () => {
    product
      .given([registered, reserved('o-1', 4), reserved('o-2', 1)])
      .when(release('o-1'))
      .then([released('o-1', 4)]);
  });

  it('decides nothing for an order without a reservation', () => {
    product
      .given([registered, reserved('o-2', 1)])
      .when(release('o-1'))
      .thenNothing();
  });

  it('decides nothing when the reservation was already released', () => {
    product
      .given([registered, reserved('o-1', 4), released('o-1', 4)])
      .when(release('o-1'))
      .thenNothing();
  });

  it('fails for a product that was never registered', () => {
    product.given([]).when(release('o-1')).thenThrows(NotFoundError);
  });
});

describe('product state', () => {
  it('tracks stock on hand and live reservations', () => {
    const events = [registered, reserved('o-1', 4), reserved('o-2', 3), released('o-1', 4)];
    const state = events.reduce(productDecider.evolve, productDecider.initialState());
    expect(state.onHand).toBe(7);
    expect([...state.reservations]).toEqual([['o-2', 3]]);
    expect([...state.released]).toEqual(['o-1']);
  });

  it('keeps earlier states unchanged when later events are folded onto them', () => {
    const before = [registered, reserved('o-1', 4)].reduce(
      productDecider.evolve,
      productDecider.initialState(),
    );
    const after = [reserved('o-2', 3), released('o-1', 4)].reduce(productDecider.evolve, before);
    expect([...before.reservations]).toEqual([['o-1', 4]]);
    expect(before.released.size).toBe(0);
    expect([...after.reservations]).toEqual([['o-2', 3]]);
  });
});
