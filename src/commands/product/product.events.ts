/**
 * The product aggregate's events: the contract between the write side and every projection.
 * Their data is stored as JSON, so each data type must be assignable to `JsonObject`; the
 * `JsonEvent` constraint makes the compiler prove it.
 */
import type { JsonObject } from '../../streams/event-store.js';
import type { DomainEvent } from '../decider.js';

type JsonEvent<Type extends string, Data extends JsonObject> = DomainEvent<Type, Data>;

/** One stream per product, keyed by sku. */
export const productStreamId = (sku: string): string => `product-${sku}`;

export const ProductEventType = {
  ProductRegistered: 'ProductRegistered',
  ProductRestocked: 'ProductRestocked',
  StockReserved: 'StockReserved',
  StockReleased: 'StockReleased',
} as const;

export type ProductRegistered = JsonEvent<
  'ProductRegistered',
  Readonly<{ sku: string; name: string; priceCents: number; initialStock: number }>
>;

export type ProductRestocked = JsonEvent<
  'ProductRestocked',
  Readonly<{ sku: string; quantity: number }>
>;

/** `unitPriceCents` is the product's price when the stock was reserved. */
export type StockReserved = JsonEvent<
  'StockReserved',
  Readonly<{ sku: string; orderId: string; quantity: number; unitPriceCents: number }>
>;

/** `quantity` is the whole reservation being returned to stock. */
export type StockReleased = JsonEvent<
  'StockReleased',
  Readonly<{ sku: string; orderId: string; quantity: number }>
>;

export type ProductEvent = ProductRegistered | ProductRestocked | StockReserved | StockReleased;

export const productEventTypes: readonly ProductEvent['type'][] = Object.values(ProductEventType);

const known: ReadonlySet<string> = new Set(productEventTypes);

/**
 * Narrows a stored event to a product event by its type. The data is trusted: only the
 * product decider appends these types, and it validated them before they reached the log.
 */
export function isProductEvent<E extends Readonly<{ type: string }>>(
  event: E,
): event is E & ProductEvent {
  return known.has(event.type);
}
