/**
 * Sales per minute: orders confirmed, their units and revenue, in a tumbling one-minute window
 * of event time. An order is a sale once it is confirmed, not when it is placed: a placed order
 * may still be rejected, and only the confirmation carries its price.
 *
 * The window comes from `metadata.occurredAt`, not from when the event is processed, so a late
 * event (a slow relay, a replay) is counted in the minute it happened, not the current one.
 * One minute's orders come from many streams and so many partitions, and a document may only be
 * changed from one partition: each partition keeps its own document per minute
 * (id `<minute>#p<partition>`), and the query side sums a minute's partition documents.
 */
import type { OrderConfirmed } from '../../commands/order/order.events.js';
import { OrderEventType, isOrderEvent } from '../../commands/order/order.events.js';
import type { RecordedEvent } from '../../streams/event-store.js';
import type { Projection } from '../projection.js';

export type SalesPerMinuteDoc = Readonly<{
  /** ISO 8601 start of the minute (UTC), for example `2026-11-22T14:07:00.000Z`. */
  minute: string;
  partition: number;
  orders: number;
  units: number;
  revenueCents: number;
}>;

const MINUTE_MS = 60_000;

/**
 * The UTC start of the minute an ISO 8601 time falls in, or undefined when it does not parse.
 * Parsing (rather than cutting the string) normalises offsets such as `+02:00`.
 */
export function minuteOf(occurredAt: string): string | undefined {
  const ms = Date.parse(occurredAt);
  if (Number.isNaN(ms)) return undefined;
  return new Date(Math.floor(ms / MINUTE_MS) * MINUTE_MS).toISOString();
}

export function salesWindowId(minute: string, partition: number): string {
  return `${minute}#p${partition}`;
}

function orderConfirmed(event: RecordedEvent): (RecordedEvent & OrderConfirmed) | undefined {
  return isOrderEvent(event) && event.type === 'OrderConfirmed' ? event : undefined;
}

function counted(
  doc: SalesPerMinuteDoc | undefined,
  event: RecordedEvent & OrderConfirmed,
  minute: string,
  partition: number,
): SalesPerMinuteDoc {
  const base = doc ?? { minute, partition, orders: 0, units: 0, revenueCents: 0 };
  const units = event.data.items.reduce((sum, item) => sum + item.quantity, 0);
  return {
    ...base,
    orders: base.orders + 1,
    units: base.units + units,
    // A manual confirmation carries no pricing: a sale of unknown value counts no revenue.
    revenueCents: base.revenueCents + (event.data.pricing?.totalCents ?? 0),
  };
}

export const salesPerMinuteProjection: Projection<SalesPerMinuteDoc> = {
  name: 'sales-per-minute',
  version: 1,
  handles: [OrderEventType.OrderConfirmed],
  indexes: [{ field: 'minute' }],
  // An event whose time does not parse has no window; it is skipped rather than blocking the
  // partition forever (the command handler always stamps a valid time, so this is defensive).
  documentId(event, ctx) {
    if (orderConfirmed(event) === undefined) return undefined;
    const minute = minuteOf(event.metadata.occurredAt);
    return minute === undefined ? undefined : salesWindowId(minute, ctx.partition);
  },
  evolve(doc, event, ctx) {
    const confirmed = orderConfirmed(event);
    const minute = minuteOf(event.metadata.occurredAt);
    if (confirmed === undefined || minute === undefined) return doc ?? null;
    return counted(doc, confirmed, minute, ctx.partition);
  },
};
