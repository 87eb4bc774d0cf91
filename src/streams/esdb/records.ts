/**
 * Conversions between the port's events and the client's, and the translation of the client's
 * errors, so that no `@eventstore/db-client` type leaks past this adapter.
 */
import {
  CancelledError,
  DeadlineExceededError,
  jsonEvent,
  NotLeaderError,
  UnavailableError,
  type EventData,
  type JSONType,
} from '@eventstore/db-client';
import { OverloadedError, ValidationError } from '../../errors.js';
import type { EventMetadata, JsonObject, NewEvent, RecordedEvent } from '../event-store.js';
import { encodePosition, type LogPosition } from './position.js';

/** The part of the client's recorded events this adapter reads. */
export type ClientRecordedEvent = Readonly<{
  id: string;
  type: string;
  streamId: string;
  revision: bigint;
  isJson: boolean;
  data: unknown;
  metadata?: unknown;
  position?: LogPosition | undefined;
}>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** System events ($-prefixed types or streams) belong to the server, not to any category of ours. */
export function isSystemEvent(event: Readonly<{ type: string; streamId: string }>): boolean {
  return event.type.startsWith('$') || event.streamId.startsWith('$');
}

/**
 * The port's view of a recorded event, or `undefined` for an event this adapter did not write
 * and cannot represent (binary content, no position).
 */
export function toRecordedEvent(event: ClientRecordedEvent | undefined): RecordedEvent | undefined {
  if (event === undefined || !event.isJson || event.position === undefined) return undefined;
  if (!isObject(event.data)) return undefined;
  return {
    id: event.id,
    type: event.type,
    streamId: event.streamId,
    revision: Number(event.revision),
    position: encodePosition(event.position),
    data: event.data as JsonObject,
    metadata: (isObject(event.metadata) ? event.metadata : {}) as EventMetadata,
  };
}

/** Checks and converts the events of one append; JavaScript callers do not honour the types. */
export function toEventData(streamId: string, events: readonly NewEvent[]): EventData[] {
  const list: unknown = events;
  if (!Array.isArray(list) || list.length === 0) {
    throw new ValidationError(`An append to ${streamId} needs at least one event`, { streamId });
  }
  const ids = new Set<string>();
  return events.map((event) => {
    // EventStoreDB keys events by UUID and refuses any other id.
    if (typeof event.id !== 'string' || !UUID.test(event.id) || ids.has(event.id.toLowerCase())) {
      throw new ValidationError('Every event of an append needs its own UUID', {
        streamId,
        id: event.id,
      });
    }
    if (typeof event.type !== 'string' || event.type === '') {
      throw new ValidationError('Every event needs a non-empty type', { streamId, id: event.id });
    }
    ids.add(event.id.toLowerCase());
    return jsonEvent({
      id: event.id,
      type: event.type,
      data: checkJson(event.data, streamId, event.id) as JSONType,
      metadata: checkJson(event.metadata, streamId, event.id) as JSONType,
    });
  });
}

function checkJson(value: unknown, streamId: string, id: string): unknown {
  const notJson = (reason: string) =>
    new ValidationError(`Event ${id} cannot be stored: ${reason}`, { streamId, id });
  if (!isObject(value)) throw notJson('its data and metadata must be JSON objects');
  try {
    // The client serialises later, inside its own promise; fail here, alone and early.
    JSON.stringify(value);
  } catch (error) {
    throw notJson(error instanceof Error ? error.message : String(error));
  }
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether the error means the server is out of reach for now: reconnecting may cure it. */
export function isTransient(error: unknown): boolean {
  return (
    error instanceof UnavailableError ||
    error instanceof CancelledError ||
    error instanceof DeadlineExceededError ||
    error instanceof NotLeaderError
  );
}

/** Errors the caller can act on become catalogue errors; the vendor error stays as `cause`. */
export function translateError(error: unknown, what: string): Error {
  if (isTransient(error)) {
    const failure = new OverloadedError(`EventStoreDB is unreachable (${what}); retry later`);
    return Object.assign(failure, { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}
