/**
 * The product aggregate: a sku's price and stock. Stock on hand never goes negative, and each
 * order reserves a product's stock at most once, so a retried workflow step is harmless.
 */
import { Map as PersistentMap, Set as PersistentSet } from 'immutable';
import { NotFoundError, RuleViolation } from '../../errors.js';
import { assertNonNegativeInteger, assertPositiveInteger } from '../checkout.rules.js';
import type { Command, Decider } from '../decider.js';
import type {
  ProductEvent,
  ProductRegistered,
  StockReleased,
  StockReserved,
} from './product.events.js';

export type RegisterProduct = Command<
  'RegisterProduct',
  Readonly<{ sku: string; name: string; priceCents: number; initialStock: number }>
>;
export type RestockProduct = Command<'RestockProduct', Readonly<{ sku: string; quantity: number }>>;
export type ReserveStock = Command<
  'ReserveStock',
  Readonly<{ sku: string; orderId: string; quantity: number }>
>;
export type ReleaseStock = Command<'ReleaseStock', Readonly<{ sku: string; orderId: string }>>;

export type ProductCommand = RegisterProduct | RestockProduct | ReserveStock | ReleaseStock;

export type ProductState = Readonly<{
  registered: boolean;
  sku: string;
  name: string;
  priceCents: number;
  /** Stock that no order has reserved. */
  onHand: number;
  /**
   * Live reservations: order id → quantity. Persistent collections: a hot product's stream
   * holds one reservation per order ever placed for it, and each event shares the previous
   * state's structure instead of copying it (copying made every reservation O(orders)).
   */
  reservations: PersistentMap<string, number>;
  /** Orders whose reservation was released; they have had their one reservation. */
  released: PersistentSet<string>;
}>;

const initialState = (): ProductState => ({
  registered: false,
  sku: '',
  name: '',
  priceCents: 0,
  onHand: 0,
  reservations: PersistentMap(),
  released: PersistentSet(),
});

function decide(command: ProductCommand, state: ProductState): readonly ProductEvent[] {
  switch (command.type) {
    case 'RegisterProduct':
      return register(command.data, state);
    case 'RestockProduct':
      return restock(command.data, state);
    case 'ReserveStock':
      return reserve(command.data, state);
    case 'ReleaseStock':
      return release(command.data, state);
  }
}

// Input is checked before state: a malformed command is malformed whatever the product's state.

function register(data: RegisterProduct['data'], state: ProductState): readonly ProductEvent[] {
  assertNonNegativeInteger(data.priceCents, 'invalid-price', 'priceCents');
  assertNonNegativeInteger(data.initialStock, 'invalid-quantity', 'initialStock');
  if (state.registered) {
    throw new RuleViolation('product-exists', `Product ${data.sku} is already registered`, {
      sku: data.sku,
    });
  }
  const { sku, name, priceCents, initialStock } = data;
  return [{ type: 'ProductRegistered', data: { sku, name, priceCents, initialStock } }];
}

function restock(data: RestockProduct['data'], state: ProductState): readonly ProductEvent[] {
  assertPositiveInteger(data.quantity, 'invalid-quantity', 'quantity');
  assertRegistered(state, data.sku);
  return [{ type: 'ProductRestocked', data: { sku: data.sku, quantity: data.quantity } }];
}

function reserve(data: ReserveStock['data'], state: ProductState): readonly ProductEvent[] {
  assertPositiveInteger(data.quantity, 'invalid-quantity', 'quantity');
  assertRegistered(state, data.sku);
  // At most one reservation per order, ever: a retried step decides nothing, and a late retry
  // after the reservation was released cannot lock stock for an order that has given it up.
  if (state.reservations.has(data.orderId) || state.released.has(data.orderId)) return [];
  if (data.quantity > state.onHand) {
    throw new RuleViolation(
      'insufficient-stock',
      `Product ${data.sku} has ${state.onHand} available, ${data.quantity} requested`,
      { sku: data.sku, available: state.onHand, requested: data.quantity },
    );
  }
  const { sku, orderId, quantity } = data;
  return [
    { type: 'StockReserved', data: { sku, orderId, quantity, unitPriceCents: state.priceCents } },
  ];
}

function release(data: ReleaseStock['data'], state: ProductState): readonly ProductEvent[] {
  assertRegistered(state, data.sku);
  const quantity = state.reservations.get(data.orderId);
  // Nothing held (never reserved, or already released): releasing again is a no-op.
  if (quantity === undefined) return [];
  return [{ type: 'StockReleased', data: { sku: data.sku, orderId: data.orderId, quantity } }];
}

function assertRegistered(state: ProductState, sku: string): void {
  if (!state.registered) throw new NotFoundError(`Product ${sku} does not exist`, { sku });
}

function evolve(state: ProductState, event: ProductEvent): ProductState {
  switch (event.type) {
    case 'ProductRegistered':
      return registered(state, event);
    case 'ProductRestocked':
      return { ...state, onHand: state.onHand + event.data.quantity };
    case 'StockReserved':
      return reserved(state, event);
    case 'StockReleased':
      return releasedStock(state, event);
    default:
      // Events of other types (there should be none in a product stream) change nothing.
      return state;
  }
}

function registered(state: ProductState, { data }: ProductRegistered): ProductState {
  const { sku, name, priceCents, initialStock } = data;
  return { ...state, registered: true, sku, name, priceCents, onHand: initialStock };
}

function reserved(state: ProductState, { data }: StockReserved): ProductState {
  return {
    ...state,
    onHand: state.onHand - data.quantity,
    reservations: state.reservations.set(data.orderId, data.quantity),
  };
}

function releasedStock(state: ProductState, { data }: StockReleased): ProductState {
  return {
    ...state,
    onHand: state.onHand + data.quantity,
    reservations: state.reservations.delete(data.orderId),
    released: state.released.add(data.orderId),
  };
}

export const productDecider: Decider<ProductCommand, ProductEvent, ProductState> = {
  initialState,
  decide,
  evolve,
};
