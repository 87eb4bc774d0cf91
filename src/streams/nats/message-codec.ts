/**
 * How bus messages look on the wire. An event is its JSON with `Nats-Msg-Id` = event id, so
 * JetStream drops a republished event. A watermark has an empty body, its position in a header,
 * and a message id in its own namespace (`wm:`) that no event id (a UUID) can take.
 */
import { headers as natsHeaders, type MsgHdrs } from 'nats';
import type { BusMessage } from '../event-bus.js';
import type { Position, RecordedEvent } from '../event-store.js';

const KIND = 'Streamfold-Kind';
const POSITION = 'Streamfold-Position';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export type WireMessage = Readonly<{ msgId: string; headers: MsgHdrs; data: Uint8Array }>;

export function encodeEvent(event: RecordedEvent): WireMessage {
  const headers = natsHeaders();
  headers.set(KIND, 'event');
  return { msgId: event.id, headers, data: encoder.encode(JSON.stringify(event)) };
}

export function encodeWatermark(position: Position, partition: number): WireMessage {
  const headers = natsHeaders();
  headers.set(KIND, 'watermark');
  headers.set(POSITION, position);
  return { msgId: `wm:${position}:${partition}`, headers, data: new Uint8Array() };
}

/** Undefined for a message Streamfold did not publish; the consumer acknowledges and skips it. */
export function decodeMessage(
  partition: number,
  headers: MsgHdrs | undefined,
  data: Uint8Array,
): BusMessage | undefined {
  const kind = headers?.get(KIND);
  if (kind === 'watermark') {
    const position = headers?.get(POSITION) ?? '';
    return position === '' ? undefined : { kind: 'watermark', partition, position };
  }
  if (kind !== 'event') return undefined;
  const event = JSON.parse(decoder.decode(data)) as RecordedEvent;
  return { kind: 'event', partition, event };
}
