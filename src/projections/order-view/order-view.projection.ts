/**
 * One document per order, everything an order page shows, with the history of its status:
 * a client that was answered 202 follows its order here from pending through reserving to
 * confirmed or rejected. Keyed by order id: every event of an order lives in its stream, so
 * one partition.
 */
import type {
  OrderEvent,
  OrderItem,
  OrderPlaced,
  OrderStatus,
  Pricing,
} from '../../commands/order/order.events.js';
import { isOrderEvent, orderEventTypes, statusAfter } from '../../commands/order/order.events.js';
import type { RecordedEvent } from '../../streams/event-store.js';
import type { Projection } from '../projection.js';

export type OrderTimelineEntry = Readonly<{ status: OrderStatus; at: string }>;

export type OrderViewDoc = Readonly<{
  orderId: string;
  customerId: string;
  status: OrderStatus;
  items: readonly OrderItem[];
  /** Absent when the customer gave none. */
  promoCode?: string;
  /** Null until the order is confirmed with a pricing (a manual confirmation has none). */
  pricing: Pricing | null;
  /** pricing.totalCents, kept beside it so that lists and queries need not dig for it. */
  totalCents: number | null;
  placedAt: string;
  updatedAt: string;
  /** Stream revision of the last event applied. */
  revision: number;
  /** Why the order was rejected or cancelled; absent when no reason was given. */
  reason?: string;
  /** One step per status change, the first one `pending`. */
  timeline: readonly OrderTimelineEntry[];
}>;

type OrderRecord = RecordedEvent & OrderEvent;

function placed(event: RecordedEvent & OrderPlaced): OrderViewDoc {
  const { orderId, customerId, items, promoCode } = event.data;
  const at = event.metadata.occurredAt;
  return {
    orderId,
    customerId,
    status: 'pending',
    items,
    ...(promoCode === undefined ? {} : { promoCode }),
    pricing: null,
    totalCents: null,
    placedAt: at,
    updatedAt: at,
    revision: event.revision,
    timeline: [{ status: 'pending', at }],
  };
}

/** What an event adds beyond the status: a reason, or the pricing of a confirmation. */
function detailsOf(event: OrderRecord): Partial<OrderViewDoc> {
  switch (event.type) {
    case 'OrderRejected':
    case 'OrderCancelled':
      return event.data.reason === undefined ? {} : { reason: event.data.reason };
    case 'OrderConfirmed': {
      const { pricing } = event.data;
      return pricing === undefined ? {} : { pricing, totalCents: pricing.totalCents };
    }
    default:
      return {};
  }
}

function transitioned(doc: OrderViewDoc, event: OrderRecord): OrderViewDoc {
  const status = statusAfter[event.type];
  const at = event.metadata.occurredAt;
  return {
    ...doc,
    ...detailsOf(event),
    status,
    updatedAt: at,
    revision: event.revision,
    timeline: [...doc.timeline, { status, at }],
  };
}

export const orderViewProjection: Projection<OrderViewDoc> = {
  name: 'order-view',
  version: 1,
  handles: orderEventTypes,
  indexes: [{ field: 'customerId' }, { field: 'status' }, { field: 'placedAt' }],
  documentId: (event) => (isOrderEvent(event) ? event.data.orderId : undefined),
  evolve(doc, event) {
    if (!isOrderEvent(event)) return doc ?? null;
    if (event.type === 'OrderPlaced') return placed(event);
    // A status change for an order we never saw placed has nothing to describe it; per-stream
    // order makes this impossible on a complete log, so write nothing rather than half a doc
    // (null on a missing document leaves the store as it was).
    return doc === undefined ? null : transitioned(doc, event);
  },
};
