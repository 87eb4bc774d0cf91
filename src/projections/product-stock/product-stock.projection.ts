/**
 * Stock per product: what can still be ordered (`available`) and what orders hold
 * (`reserved`). Keyed by sku: a product's events all live in its stream, so one partition.
 */
import type { ProductEvent, ProductRegistered } from '../../commands/product/product.events.js';
import { isProductEvent, productEventTypes } from '../../commands/product/product.events.js';
import type { RecordedEvent } from '../../streams/event-store.js';
import type { Projection } from '../projection.js';

export type ProductStockDoc = Readonly<{
  sku: string;
  name: string;
  priceCents: number;
  /** On hand and not reserved. */
  available: number;
  /** Held by orders' reservations. */
  reserved: number;
  updatedAt: string;
}>;

type StockChange = Exclude<RecordedEvent & ProductEvent, { type: 'ProductRegistered' }>;

function registered(event: RecordedEvent & ProductRegistered): ProductStockDoc {
  const { sku, name, priceCents, initialStock } = event.data;
  const updatedAt = event.metadata.occurredAt;
  return { sku, name, priceCents, available: initialStock, reserved: 0, updatedAt };
}

function changed(doc: ProductStockDoc, event: StockChange): ProductStockDoc {
  const updatedAt = event.metadata.occurredAt;
  switch (event.type) {
    case 'ProductRestocked':
      return { ...doc, available: doc.available + event.data.quantity, updatedAt };
    case 'StockReserved':
      return moved(doc, event.data.quantity, updatedAt);
    case 'StockReleased':
      return moved(doc, -event.data.quantity, updatedAt);
  }
}

/** Moves `quantity` units from available to reserved (a negative quantity moves them back). */
function moved(doc: ProductStockDoc, quantity: number, updatedAt: string): ProductStockDoc {
  return {
    ...doc,
    available: doc.available - quantity,
    reserved: doc.reserved + quantity,
    updatedAt,
  };
}

export const productStockProjection: Projection<ProductStockDoc> = {
  name: 'product-stock',
  version: 1,
  handles: productEventTypes,
  indexes: [{ field: 'name' }],
  documentId: (event) => (isProductEvent(event) ? event.data.sku : undefined),
  evolve(doc, event) {
    if (!isProductEvent(event)) return doc ?? null;
    if (event.type === 'ProductRegistered') return registered(event);
    // Stock moves for a product we never saw registered cannot be counted from nothing:
    // null on a missing document writes nothing.
    return doc === undefined ? null : changed(doc, event);
  },
};
