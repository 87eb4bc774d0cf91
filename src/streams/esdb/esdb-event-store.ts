/**
 * The EventStore port on EventStoreDB / KurrentDB through the official gRPC client. It behaves
 * like the embedded SQLite store (the contract suite is the judge): see `append.ts` for how
 * appends get the same idempotency and conflicts, `subscription.ts` for the catch-up
 * subscription that survives connection loss. System events (`$`-prefixed types or streams)
 * are not part of the port's log and are skipped everywhere.
 */
import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  START,
  StreamNotFoundError,
  type AllStreamResolvedEvent,
  type Position as ClientPosition,
} from '@eventstore/db-client';
import { ClosedError, ConfigError, ValidationError } from '../../errors.js';
import type {
  AppendOptions,
  AppendResult,
  EventStore,
  NewEvent,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
} from '../event-store.js';
import { appendExactly, clientRevision, type AppendDriver } from './append.js';
import { decodePosition, type LogPosition } from './position.js';
import { isSystemEvent, toEventData, toRecordedEvent, translateError } from './records.js';
import { followAll } from './subscription.js';
import { validateExpectedRevision } from '../append-rules.js';

export type EsdbEventStoreOptions = Readonly<{
  /** A connection string, `esdb://host:2113?tls=false` (or `kurrentdb://…`, `esdb+discover://…`). */
  url: string;
  /** Append attempts while other writers keep moving the same stream. @default 100 */
  maxAppendAttempts?: number;
  /** Resubscription back-off after a lost connection: doubles from `initialMs` to `maxMs`. */
  retry?: Readonly<{ /** @default 100 */ initialMs?: number; /** @default 2000 */ maxMs?: number }>;
  /** Told about every transient subscription failure before the adapter subscribes again. */
  onReconnect?: (error: unknown) => void;
}>;

const NAME = 'EventStoreDB event store';
const DEFAULT_READ_ALL_MAX_COUNT = 1000;
/** How many records one page of `$all` reads; system events make pages shrink after filtering. */
const PAGE = 500;

export function createEsdbEventStore(options: EsdbEventStoreOptions): EventStore {
  const settings = validateOptions(options);
  const client = EventStoreDBClient.connectionString(settings.url);
  const closing = new AbortController();
  const pending = new Set<Promise<unknown>>();

  function assertOpen(): void {
    if (closing.signal.aborted) throw new ClosedError(NAME);
  }

  const driver: AppendDriver = {
    write: (streamId, events, revision) =>
      client.appendToStream(streamId, events, { expectedRevision: clientRevision(revision) }),
    readStream: (streamId) => readStream(client, streamId, {}),
  };

  function track<T>(promise: Promise<T>): Promise<T> {
    pending.add(promise);
    void promise.finally(() => pending.delete(promise)).catch(() => undefined);
    return promise;
  }

  return {
    append(streamId: string, events: readonly NewEvent[], options?: AppendOptions) {
      return track(
        (async (): Promise<AppendResult> => {
          assertOpen();
          const expected = validateExpectedRevision(options?.expectedRevision ?? 'any');
          const data = toEventData(validateStreamId(streamId), events);
          try {
            return await appendExactly(
              driver,
              streamId,
              data,
              expected,
              settings.maxAppendAttempts,
            );
          } catch (error) {
            throw translateError(error, `append to ${streamId}`);
          }
        })(),
      );
    },

    async readStream(streamId: string, options: ReadStreamOptions = {}) {
      assertOpen();
      return readStream(client, streamId, options).catch((error: unknown) => {
        throw translateError(error, `read of ${streamId}`);
      });
    },

    async readAll(options: ReadAllOptions = {}) {
      assertOpen();
      const maxCount = count(options.maxCount, DEFAULT_READ_ALL_MAX_COUNT, 'maxCount');
      const after = decodePosition(options.after);
      return readAllAfter(client, after, maxCount).catch((error: unknown) => {
        throw translateError(error, 'read of $all');
      });
    },

    subscribeToAll(options: SubscribeOptions = {}) {
      return {
        [Symbol.asyncIterator]: () =>
          followAll(
            {
              client,
              closed: closing.signal,
              retryInitialMs: settings.retryInitialMs,
              retryMaxMs: settings.retryMaxMs,
              ...(settings.onReconnect === undefined ? {} : { onReconnect: settings.onReconnect }),
            },
            options,
          ),
      };
    },

    async headPosition() {
      assertOpen();
      return lastPosition(client).catch((error: unknown) => {
        throw translateError(error, 'read of $all');
      });
    },

    async close() {
      if (closing.signal.aborted) return;
      closing.abort();
      await Promise.allSettled([...pending]);
      await client.dispose();
    },
  };
}

async function readStream(
  client: EventStoreDBClient,
  streamId: string,
  options: ReadStreamOptions,
): Promise<RecordedEvent[]> {
  const backwards = options.direction === 'backwards';
  const maxCount = count(options.maxCount, undefined, 'maxCount');
  const from = options.fromRevision;
  if (from !== undefined && !(Number.isSafeInteger(from) && from >= 0)) {
    throw new ValidationError('fromRevision must be an integer from 0', { fromRevision: from });
  }
  if (maxCount === 0) return [];
  const events: RecordedEvent[] = [];
  try {
    const read = client.readStream(streamId, {
      direction: backwards ? BACKWARDS : FORWARDS,
      fromRevision: from === undefined ? (backwards ? END : START) : BigInt(from),
      ...(maxCount === undefined ? {} : { maxCount }),
    });
    for await (const resolved of read) {
      const event = toRecordedEvent(resolved.event);
      if (event !== undefined) events.push(event);
    }
  } catch (error) {
    // The port reads a stream that does not exist as empty.
    if (error instanceof StreamNotFoundError) return [];
    throw error;
  }
  return events;
}

/** Up to `maxCount` of our events strictly after `after`, paging over system events. */
async function readAllAfter(
  client: EventStoreDBClient,
  after: LogPosition | undefined,
  maxCount: number,
): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  let cursor: ClientPosition | undefined = after;
  while (events.length < maxCount) {
    // Reads start at their position inclusively: ask one more, and drop the cursor itself.
    const page = await readPage(client, cursor, FORWARDS, PAGE + 1);
    const fresh = page.filter((event) => isBeyond(event, cursor, 1));
    if (fresh.length === 0) return events;
    for (const resolved of fresh) {
      const event = ours(resolved);
      if (event !== undefined && events.length < maxCount) events.push(event);
    }
    cursor = fresh[fresh.length - 1]?.event?.position;
  }
  return events;
}

async function lastPosition(client: EventStoreDBClient): Promise<Position | undefined> {
  let cursor: ClientPosition | undefined;
  for (;;) {
    const page = await readPage(client, cursor, BACKWARDS, PAGE + 1);
    // Backwards reads may or may not include their start; drop it either way.
    const older = page.filter((event) => isBeyond(event, cursor, -1));
    if (older.length === 0) return undefined;
    for (const resolved of older) {
      const event = ours(resolved);
      if (event !== undefined) return event.position;
    }
    cursor = older[older.length - 1]?.event?.position;
  }
}

async function readPage(
  client: EventStoreDBClient,
  from: ClientPosition | undefined,
  direction: typeof FORWARDS | typeof BACKWARDS,
  maxCount: number,
): Promise<AllStreamResolvedEvent[]> {
  const start = from ?? (direction === FORWARDS ? START : END);
  const page: AllStreamResolvedEvent[] = [];
  for await (const resolved of client.readAll({ fromPosition: start, direction, maxCount })) {
    page.push(resolved);
  }
  return page;
}

function ours(resolved: AllStreamResolvedEvent): RecordedEvent | undefined {
  const event = toRecordedEvent(resolved.event);
  return event === undefined || isSystemEvent(event) ? undefined : event;
}

/** Whether the event lies strictly after (`sign` 1) or before (-1) the cursor. */
function isBeyond(
  resolved: AllStreamResolvedEvent,
  cursor: ClientPosition | undefined,
  sign: 1 | -1,
): boolean {
  const position = resolved.event?.position;
  if (position === undefined) return false;
  if (cursor === undefined) return true;
  const order =
    position.commit === cursor.commit
      ? Math.sign(Number(position.prepare - cursor.prepare))
      : Math.sign(Number(position.commit - cursor.commit));
  return order === sign;
}

function validateOptions(options: EsdbEventStoreOptions) {
  const url = options.url;
  if (typeof url !== 'string' || !/^(esdb|esdb\+discover|kurrentdb|kurrent):\/\//.test(url)) {
    throw new ConfigError('The EventStoreDB event store needs an esdb:// or kurrentdb:// URL', {
      url,
    });
  }
  // The client of this major version knows only the esdb schemes; KurrentDB speaks the same protocol.
  const normalized = url.replace(/^kurrent(db)?(\+discover)?:\/\//, 'esdb$2://');
  const maxAppendAttempts = options.maxAppendAttempts ?? 100;
  const retryInitialMs = options.retry?.initialMs ?? 100;
  const retryMaxMs = options.retry?.maxMs ?? 2000;
  for (const [name, value] of Object.entries({ maxAppendAttempts, retryInitialMs, retryMaxMs })) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new ConfigError(`${name} must be a positive integer`, { [name]: value });
    }
  }
  return Object.freeze({
    url: normalized,
    maxAppendAttempts,
    retryInitialMs,
    retryMaxMs,
    onReconnect: options.onReconnect,
  });
}

function validateStreamId(streamId: string): string {
  if (typeof streamId !== 'string' || streamId === '' || streamId.startsWith('$')) {
    throw new ValidationError('A stream id must be a non-empty string not starting with "$"', {
      streamId,
    });
  }
  return streamId;
}

function count<T extends number | undefined>(
  value: number | undefined,
  fallback: T,
  name: string,
): number | T {
  if (value === undefined) return fallback;
  if (Number.isSafeInteger(value) && value >= 0) return value;
  throw new ValidationError(`${name} must be an integer from 0`, { [name]: value });
}
