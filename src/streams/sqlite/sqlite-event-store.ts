/**
 * The embedded EventStore: an SQLite file in WAL mode, appends group-committed with one fsync
 * per batch on a writer thread, reads on this thread's connection, subscriptions woken
 * in-process by commits and by polling for other processes.
 */
import { ClosedError, ConfigError, ValidationError } from '../../errors.js';
import type {
  AppendOptions,
  AppendResult,
  EventStore,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
} from '../event-store.js';
import {
  createGroupCommitter,
  createThreadedCommitter,
  type GroupCommitStats,
  type SerializedEvent,
} from './group-commit.js';
import {
  decodePosition,
  encodePosition,
  openDatabase,
  prepareStatements,
  toRecordedEvent,
} from './schema.js';
import { validateExpectedRevision } from '../append-rules.js';

export type SqliteEventStoreOptions = Readonly<{
  /** The database file, created with its parent directory when missing, or `':memory:'`. */
  path: string;
  /**
   * How often a caught-up subscription looks for events appended by other processes. Appends
   * made through this store wake its subscriptions at once. @default 100
   */
  pollIntervalMs?: number;
}>;

/** The SQLite store, with counters that show how well group commit batches appends. */
export interface SqliteEventStore extends EventStore {
  /** A snapshot of the counters since the store was opened. */
  readonly stats: GroupCommitStats;
}

const DEFAULT_POLL_INTERVAL_MS = 100;
const DEFAULT_READ_ALL_MAX_COUNT = 1000;
const DEFAULT_BATCH_SIZE = 500;
const NO_LIMIT = -1;
const NAME = 'SQLite event store';

export function createSqliteEventStore(options: SqliteEventStoreOptions): SqliteEventStore {
  const { path, pollIntervalMs } = validateOptions(options);
  const db = openDatabase(path);
  const statements = prepareStatements(db);
  const doorbell = createDoorbell();
  // A file's commits go to a writer thread, so their fsyncs never block this event loop; an
  // in-memory database exists only on this connection, so it commits here.
  const committer =
    path === ':memory:'
      ? createGroupCommitter(db, statements, doorbell.ring)
      : createThreadedCommitter(path, doorbell.ring);
  let closed = false;

  function assertOpen(): void {
    if (closed) throw new ClosedError(NAME);
  }

  async function* follow(options: SubscribeOptions): AsyncGenerator<RecordedEvent> {
    assertOpen();
    const { signal } = options;
    const batchSize = positiveInteger(options.batchSize ?? DEFAULT_BATCH_SIZE, 'batchSize');
    let after = decodePosition(options.after);
    const stopped = () => closed || signal?.aborted === true;
    while (!stopped()) {
      // Reading one batch at a time, and the next only once the consumer has pulled this one,
      // is the back-pressure: a slow consumer never makes the store buffer the log.
      const rows = statements.readAll.all(after, batchSize);
      for (const row of rows) {
        if (stopped()) return;
        after = row[0];
        yield toRecordedEvent(row);
      }
      // The read and the wait start in the same synchronous step, and commits ring the bell
      // from another macrotask, so no append can slip between them unnoticed.
      if (rows.length < batchSize && !stopped()) await doorbell.wait(pollIntervalMs, signal);
    }
  }

  return {
    get stats() {
      return committer.stats();
    },

    append(streamId: string, events: readonly NewEvent[], options?: AppendOptions) {
      try {
        assertOpen();
        const expectedRevision = validateExpectedRevision(options?.expectedRevision ?? 'any');
        const serialized = serializeEvents(validateStreamId(streamId), events);
        return new Promise<AppendResult>((resolve, reject) => {
          committer.enqueue({ streamId, events: serialized, expectedRevision, resolve, reject });
        });
      } catch (error) {
        return rejected(error);
      }
    },

    readStream(streamId: string, options: ReadStreamOptions = {}) {
      return attempt(() => {
        assertOpen();
        const maxCount = count(options.maxCount, NO_LIMIT, 'maxCount');
        const backwards = options.direction === 'backwards';
        const from = fromRevision(options.fromRevision, backwards ? Number.MAX_SAFE_INTEGER : 0);
        const read = backwards ? statements.readBackwards : statements.readForwards;
        return read.all(streamId, from, maxCount).map(toRecordedEvent);
      });
    },

    readAll(options: ReadAllOptions = {}) {
      return attempt(() => {
        assertOpen();
        const maxCount = count(options.maxCount, DEFAULT_READ_ALL_MAX_COUNT, 'maxCount');
        return statements.readAll.all(decodePosition(options.after), maxCount).map(toRecordedEvent);
      });
    },

    subscribeToAll(options: SubscribeOptions = {}) {
      return { [Symbol.asyncIterator]: () => follow(options) };
    },

    headPosition() {
      return attempt(() => {
        assertOpen();
        const head = statements.head.get();
        return head === null || head === undefined ? undefined : encodePosition(head);
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      // Appends already accepted are written and acknowledged before the connection closes.
      await committer.close();
      doorbell.ring();
      db.close();
    },
  };
}

function validateOptions(options: SqliteEventStoreOptions): Required<SqliteEventStoreOptions> {
  if (typeof options.path !== 'string' || options.path === '') {
    throw new ConfigError('The SQLite event store needs a file path or ":memory:"');
  }
  const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  if (!Number.isFinite(pollIntervalMs) || pollIntervalMs <= 0) {
    throw new ConfigError('pollIntervalMs must be a positive number of milliseconds', {
      pollIntervalMs,
    });
  }
  return Object.freeze({ path: options.path, pollIntervalMs });
}

/** Runs a synchronous read as a promise, so that every failure is a rejection. */
function attempt<T>(read: () => T): Promise<T> {
  try {
    return Promise.resolve(read());
  } catch (error) {
    return rejected(error);
  }
}

function rejected(error: unknown): Promise<never> {
  return Promise.reject(error instanceof Error ? error : new Error(String(error)));
}

function validateStreamId(streamId: string): string {
  if (typeof streamId !== 'string' || streamId === '') {
    throw new ValidationError('A stream id must be a non-empty string', { streamId });
  }
  return streamId;
}

function serializeEvents(streamId: string, events: readonly NewEvent[]): SerializedEvent[] {
  // Checked at run time too: JavaScript callers do not honour the types.
  const list: unknown = events;
  if (!Array.isArray(list) || list.length === 0) {
    throw new ValidationError(`An append to ${streamId} needs at least one event`, { streamId });
  }
  const ids = new Set<string>();
  return events.map((event) => {
    if (typeof event.id !== 'string' || event.id === '' || ids.has(event.id)) {
      throw new ValidationError('Every event of an append needs its own non-empty id', {
        streamId,
        id: event.id,
      });
    }
    if (typeof event.type !== 'string' || event.type === '') {
      throw new ValidationError('Every event needs a non-empty type', { streamId, id: event.id });
    }
    ids.add(event.id);
    return {
      id: event.id,
      type: event.type,
      data: toJson(event.data, streamId, event.id),
      metadata: toJson(event.metadata, streamId, event.id),
    };
  });
}

function toJson(value: object, streamId: string, id: string): string {
  const notJson = (reason: string) =>
    new ValidationError(`Event ${id} cannot be stored: ${reason}`, { streamId, id });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw notJson('its data and metadata must be JSON objects');
  }
  try {
    return JSON.stringify(value);
  } catch (error) {
    throw notJson(error instanceof Error ? error.message : String(error));
  }
}

function fromRevision(value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (Number.isSafeInteger(value) && value >= 0) return value;
  throw new ValidationError('fromRevision must be an integer from 0', { fromRevision: value });
}

function count(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (Number.isSafeInteger(value) && value >= 0) return value;
  throw new ValidationError(`${name} must be an integer from 0`, { [name]: value });
}

function positiveInteger(value: number, name: string): number {
  if (Number.isSafeInteger(value) && value > 0) return value;
  throw new ValidationError(`${name} must be a positive integer`, { [name]: value });
}

type Doorbell = Readonly<{
  /** Wakes every waiter. */
  ring: () => void;
  /** Resolves on the next ring, after `timeoutMs`, or when `signal` aborts. */
  wait: (timeoutMs: number, signal: AbortSignal | undefined) => Promise<void>;
}>;

function createDoorbell(): Doorbell {
  const waiters = new Set<() => void>();
  return {
    ring() {
      for (const wake of [...waiters]) wake();
    },
    wait(timeoutMs, signal) {
      return new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', wake);
          waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, timeoutMs);
        signal?.addEventListener('abort', wake, { once: true });
        waiters.add(wake);
      });
    },
  };
}
