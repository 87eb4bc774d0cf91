/**
 * One document per order, everything an order page shows, with the history of its status.
 * Keyed by order id: every event of an order lives in its stream, so one partition.
 */
import type {
  OrderEvent,
  OrderItem,
  OrderPlaced,
  OrderStatus,
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
  totalCents: number;
  placedAt: string;
  updatedAt: string;
  /** Stream revision of the last event applied. */
  revision: number;
  /** Why the order was rejected or cancelled; absent when no reason was given. */
  reason?: string;
  timeline: readonly OrderTimelineEntry[];
}>;

type OrderRecord = RecordedEvent & OrderEvent;

function placed(event: RecordedEvent & OrderPlaced): OrderViewDoc {
  const { orderId, customerId, items, totalCents } = event.data;
  const at = event.metadata.occurredAt;
  return {
    orderId,
    customerId,
    status: 'pending',
    items,
    totalCents,
    placedAt: at,
    updatedAt: at,
    revision: event.revision,
    timeline: [{ status: 'pending', at }],
  };
}

function reasonOf(event: OrderRecord): string | undefined {
  return event.type === 'OrderRejected' || event.type === 'OrderCancelled'
    ? event.data.reason
    : undefined;
}

function transitioned(doc: OrderViewDoc, event: OrderRecord): OrderViewDoc {
  const status = statusAfter[event.type];
  const at = event.metadata.occurredAt;
  const reason = reasonOf(event);
  return {
    ...doc,
    status,
    updatedAt: at,
    revision: event.revision,
    ...(reason === undefined ? {} : { reason }),
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
