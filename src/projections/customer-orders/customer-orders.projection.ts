/**
 * A customer's orders, newest first, as small list entries.
 *
 * A document may only be changed by events of one partition, and a customer's orders live in
 * different streams, hence different partitions. So there is no document per customer: each
 * order gets its own entry (id = order id), and the query side asks for
 * `where customerId = X order by placedAt desc`, which the two indexes serve.
 */
import type { OrderPlaced, OrderStatus } from '../../commands/order/order.events.js';
import { isOrderEvent, orderEventTypes, statusAfter } from '../../commands/order/order.events.js';
import type { RecordedEvent } from '../../streams/event-store.js';
import type { Projection } from '../projection.js';

export type CustomerOrderDoc = Readonly<{
  orderId: string;
  customerId: string;
  status: OrderStatus;
  /** Null until the order is confirmed with a pricing: orders are priced after placement. */
  totalCents: number | null;
  /** Units across all lines (Σ quantity), not the number of lines. */
  itemCount: number;
  placedAt: string;
  updatedAt: string;
}>;

function placed(event: RecordedEvent & OrderPlaced): CustomerOrderDoc {
  const { orderId, customerId, items } = event.data;
  const at = event.metadata.occurredAt;
  return {
    orderId,
    customerId,
    status: 'pending',
    totalCents: null,
    itemCount: items.reduce((units, item) => units + item.quantity, 0),
    placedAt: at,
    updatedAt: at,
  };
}

export const customerOrdersProjection: Projection<CustomerOrderDoc> = {
  name: 'customer-orders',
  version: 1,
  handles: orderEventTypes,
  indexes: [{ field: 'customerId' }, { field: 'placedAt' }],
  documentId: (event) => (isOrderEvent(event) ? event.data.orderId : undefined),
  evolve(doc, event) {
    if (!isOrderEvent(event)) return doc ?? null;
    if (event.type === 'OrderPlaced') return placed(event);
    // No entry without its OrderPlaced: null on a missing document writes nothing.
    if (doc === undefined) return null;
    const next = { ...doc, status: statusAfter[event.type], updatedAt: event.metadata.occurredAt };
    const pricing = event.type === 'OrderConfirmed' ? event.data.pricing : undefined;
    return pricing === undefined ? next : { ...next, totalCents: pricing.totalCents };
  },
};
